#!/usr/bin/env bash
# operator-image.sh NAME:TAG OUT.tar : the operator image, as the Dockerfile describes it, without a
# container engine: the Node 24 binary of the npm `node` package (as the Node base image) plus this
# clone's runtime files in /app: bin/, src/ (no tests), package.json and node_modules without the dev
# dependencies. User 65532, nothing written at run time (the Deployment's root filesystem is read-only).
set -euo pipefail
ref="$1" out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
node_bin="$(readlink -f "$repo/node_modules/node/bin/node" 2>/dev/null || true)"
[[ -x "$node_bin" ]] || { echo "operator-image: no node_modules/node in $repo; run npm ci there first" >&2; exit 1; }
r="$(mktemp -d)"; trap 'rm -rf "$r"' EXIT
"$here/rootfs.sh" "$r" "$node_bin"
mkdir -p "$r/usr/local/bin" && cp "$node_bin" "$r/usr/local/bin/node" && rm -f "$r/$node_bin"
mkdir -p "$r/app" "$r/home/node"
cp -r "$repo/bin" "$repo/src" "$repo/package.json" "$repo/package-lock.json" "$r/app/"
find "$r/app/src" \( -name '*.test.ts' -o -name testdata \) -prune -exec rm -rf {} +
# The npm `node` package is the local runtime's Node; here the image's own node runs the operator.
(cd "$r/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
rm -rf "$r/app/node_modules/node" "$r/app/node_modules/.bin/node" "$r/app/package-lock.json"
chmod -R a+rX "$r/app"
IMAGE_USER=65532:65532 IMAGE_WORKDIR=/app "$here/mkimage.sh" "$ref" "$out" "$r" -- /usr/local/bin/node /app/bin/redis-ha.js
