#!/usr/bin/env bash
# image-bases.sh : the two base images the Dockerfile names, made here from host files, because this
# machine reaches no container registry. They go into the project's podman storage (scripts/podman)
# under the Dockerfile's own names, so `podman build --pull=never` uses them and the Dockerfile stays as
# it is. The root filesystems are assembled by the test bed's testbed/lib/rootfs.sh.
#   docker.io/library/node:24-bookworm-slim (the build stage): the host's Debian 12 dash as /bin/sh, rm
#     and env, Node 24 from this clone's npm `node` package as /usr/local/bin/node, and npm $NPM_VERSION
#     (the npm registry's tarball) in /usr/local/lib/node_modules/npm; user root.
#   gcr.io/distroless/nodejs24-debian12:nonroot (the runtime stage): /nodejs/bin/node, the libraries it
#     loads, no shell, no package manager; user 65532 (nonroot), entrypoint /nodejs/bin/node.
# Remade only when the Node binary, the npm version, the CA file or these scripts change (a stamp).
# The build stage's stand-in carries the CAs the host trusts, as NODE_EXTRA_CA_CERTS: a proxy in front of
# the npm registry here presents a certificate of its own CA, so its `npm ci` trusts what the host's does.
set -euo pipefail
NPM_VERSION=11.19.1
NODE_IMAGE=docker.io/library/node:24-bookworm-slim
DISTROLESS_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
podman="$here/podman"
rootfs="$repo/testbed/lib/rootfs.sh"
cache="${REDIS_HA_PODMAN_ROOT:-/var/cache/redis-ha/podman}"
mkdir -p "$cache"

node_bin="$(readlink -f "$repo/node_modules/node/bin/node" 2>/dev/null || true)"
[[ -x "$node_bin" ]] || { echo "image-bases: no node_modules/node in $repo; run npm ci there first" >&2; exit 1; }
# The CAs the host trusts: NODE_EXTRA_CA_CERTS, else Debian's bundle (the `cafile` of this machine's
# npm, whose own config a Node run from node_modules does not read).
ca="${NODE_EXTRA_CA_CERTS:-}"
[[ -n "$ca" && -f "$ca" ]] || ca=/etc/ssl/certs/ca-certificates.crt
[[ -f "$ca" ]] || ca=""

stamp="$(cat "$node_bin" "$0" "$rootfs" ${ca:+"$ca"} | sha256sum | cut -d' ' -f1) npm $NPM_VERSION ca ${ca:-none}"
if [[ "$(cat "$cache/bases.stamp" 2>/dev/null)" == "$stamp" ]] \
  && "$podman" image exists "$NODE_IMAGE" && "$podman" image exists "$DISTROLESS_IMAGE"; then
  exit 0
fi

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

# node_rootfs DIR DEST FILE... : rootfs.sh's DIR with FILE... and Node, Node moved from its host path (in this
# clone) to DEST; the directories its host path added are removed, those of rootfs.sh's skeleton stay.
node_rootfs() {
  local dir="$1" dest="$2" path="" added="" part
  shift 2
  "$rootfs" "$dir"
  IFS=/ read -ra parts <<< "$(dirname "${node_bin#/}")"
  for part in "${parts[@]}"; do
    path="$path/$part"
    [[ -e "$dir$path" ]] || { added="$path"; break; }
  done
  "$rootfs" "$dir" "$node_bin" "$@"
  mkdir -p "$dir$(dirname "$dest")"
  mv "$dir$node_bin" "$dir$dest"
  [[ -z "$added" ]] || find "$dir$added" -depth -type d -empty -delete
}

npm_tgz="$cache/npm-$NPM_VERSION.tgz"
if [[ ! -f "$npm_tgz" ]]; then
  (cd "$work" && NODE_EXTRA_CA_CERTS="$ca" npm pack "npm@$NPM_VERSION" --silent >/dev/null)
  mv "$work/npm-$NPM_VERSION.tgz" "$npm_tgz"
fi

# The build stage: a shell, the two tools its RUN line calls, Node and npm.
r="$work/node"
node_rootfs "$r" /usr/local/bin/node /bin/sh /bin/rm /usr/bin/env ${ca:+"$ca"}
mkdir -p "$r/usr/local/lib/node_modules/npm" "$r/root"
tar -xzf "$npm_tgz" -C "$r/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["node"]')
[[ -n "$ca" ]] && changes+=(--change "ENV NODE_EXTRA_CA_CERTS=$ca")
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$r" -c . \
  | "$podman" import --quiet "${changes[@]}" - "$NODE_IMAGE" >/dev/null

# The runtime stage: Node alone, as distroless places it, and the nonroot user.
r="$work/distroless"
node_rootfs "$r" /nodejs/bin/node
mkdir -p "$r/home/nonroot"
echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >> "$r/etc/passwd"
echo 'nonroot:x:65532:' >> "$r/etc/group"
chown 65532:65532 "$r/home/nonroot"
tar --numeric-owner --sort=name --mtime=@0 -C "$r" -c . \
  | "$podman" import --quiet --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENTRYPOINT ["/nodejs/bin/node"]' - "$DISTROLESS_IMAGE" >/dev/null

echo "$stamp" > "$cache/bases.stamp"
