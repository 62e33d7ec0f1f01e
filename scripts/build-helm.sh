#!/usr/bin/env bash
# Builds Helm (helm.sh/helm/v3/cmd/helm) from the Go module proxy, once, into
# /var/cache/redis-ha/helm/<version>/helm; a stamp file says the build finished. The chart tests
# (test/helm-chart.test.ts) run that binary. Re-runs are instant. Prints the binary's path.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"
VERSION="${REDIS_HA_HELM_VERSION:-v3.21.4}"
CACHE="${REDIS_HA_CACHE:-/var/cache/redis-ha}"
export GOMODCACHE="${REDIS_HA_GOMODCACHE:-$CACHE/gomod}" GOFLAGS=-mod=mod GOTOOLCHAIN=local
export GOCACHE="$CACHE/gobuild"
OUT="$CACHE/helm/$VERSION"
if [[ -f "$OUT/stamp" && -x "$OUT/helm" ]]; then
  echo "$OUT/helm"
  exit 0
fi
command -v go >/dev/null || { echo "build-helm: go not found; install golang-go" >&2; exit 1; }
mkdir -p "$OUT" "$GOMODCACHE" "$GOCACHE"
start=$(date +%s)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init build-helm >/dev/null 2>&1
go get "helm.sh/helm/v3@$VERSION" >&2
# Low priority: the machine is shared; -trimpath and no debug info keep the binary small.
nice -n 19 go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$VERSION" -o "$OUT/helm.tmp" helm.sh/helm/v3/cmd/helm >&2
mv "$OUT/helm.tmp" "$OUT/helm"
echo "built helm $VERSION in $(( $(date +%s) - start ))s" >&2
echo "$VERSION built $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s" >"$OUT/stamp"
echo "$OUT/helm"
