#!/usr/bin/env bash
# build-image.sh [NAME:TAG] : builds the operator image from the Dockerfile, unchanged, with podman on
# the project's storage (scripts/podman). No container registry is reachable here, so the two base
# images are made first from host files (scripts/image-bases.sh) and nothing is pulled (--pull=never).
# The build stage's `npm ci` reaches the npm registry through the host's network (--network=host); no
# other step uses the network. Layers are cached in the storage: a rebuild redoes only what changed.
# Default NAME:TAG: ghcr.io/redis-ha/operator:0.1.0, the image the operator's manifests name.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
ref="${1:-ghcr.io/redis-ha/operator:0.1.0}"
"$here/image-bases.sh"
"$here/podman" build --pull=never --network=host --layers -t "$ref" -f "$repo/Dockerfile" "$repo"
# Build-cache layers nothing has used for a week (older sources' layers) go; the bases stay (tagged).
"$here/podman" image prune -f --filter until=168h >/dev/null
