#!/usr/bin/env bash
# mkimage.sh NAME:TAG[,NAME:TAG...] OUT.tar ROOTFS -- CMD...
# Packs a root filesystem directory as a one-layer image in the `docker save` layout (manifest.json with
# RepoTags), which `ctr images import` reads. Nothing is pulled: the rootfs is made here from host files.
# IMAGE_USER (uid:gid) sets the image's default user; IMAGE_WORKDIR its working directory (default /).
set -euo pipefail
ref="$1" out="$2" rootfs="$3"; shift 3
[[ "${1:-}" == "--" ]] && shift
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$rootfs" -cf "$work/layer.tar" .
layer_sha="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
mkdir "$work/$layer_sha" && mv "$work/layer.tar" "$work/$layer_sha/layer.tar"
cmd_json="$(jq -cn '$ARGS.positional' --args -- "$@")"
jq -cn --argjson cmd "$cmd_json" --arg diff "sha256:$layer_sha" --arg user "${IMAGE_USER:-}" --arg wd "${IMAGE_WORKDIR:-/}" '{
  architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
  config: ({Entrypoint: $cmd, Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], WorkingDir: $wd}
    + (if $user == "" then {} else {User: $user} end)),
  rootfs: {type: "layers", diff_ids: [$diff]}}' > "$work/config.json"
config_sha="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
mv "$work/config.json" "$work/$config_sha.json"
jq -cn --arg c "$config_sha.json" --arg r "$ref" --arg l "$layer_sha/layer.tar" \
  '[{Config: $c, RepoTags: ($r | split(",")), Layers: [$l]}]' > "$work/manifest.json"
tar --numeric-owner --owner=0 --group=0 -C "$work" -cf "$out.partial" manifest.json "$config_sha.json" "$layer_sha"
mv "$out.partial" "$out"
