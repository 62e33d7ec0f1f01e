#!/usr/bin/env bash
# Builds promtool (github.com/prometheus/prometheus/cmd/promtool) from the Go module proxy, once, into
# /var/cache/redis-ha/promtool/<version>/promtool; a stamp file says the build finished. The alert-rule
# tests (test/alert-rules.test.ts) run `promtool check rules` and `promtool test rules` with it. Re-runs
# are instant. Prints the binary's path.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"
# Prometheus's Go module is versioned v0.<minor*100+patch>: v0.316.0 is Prometheus 3.16.0.
VERSION="${REDIS_HA_PROMETHEUS_VERSION:-v0.316.0}"
CACHE="${REDIS_HA_CACHE:-/var/cache/redis-ha}"
export GOMODCACHE="${REDIS_HA_GOMODCACHE:-$CACHE/gomod}" GOFLAGS=-mod=mod GOTOOLCHAIN=local
export GOCACHE="$CACHE/gobuild"
OUT="$CACHE/promtool/$VERSION"
if [[ -f "$OUT/stamp" && -x "$OUT/promtool" ]]; then
  echo "$OUT/promtool"
  exit 0
fi
command -v go >/dev/null || { echo "build-promtool: go not found; install golang-go" >&2; exit 1; }
mkdir -p "$OUT" "$GOMODCACHE" "$GOCACHE"
start=$(date +%s)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init build-promtool >/dev/null 2>&1
go get "github.com/prometheus/prometheus@$VERSION" >&2
# Low priority: the machine is shared; -trimpath and no debug info keep the binary small.
nice -n 19 go build -trimpath -ldflags "-s -w" -o "$OUT/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool >&2
mv "$OUT/promtool.tmp" "$OUT/promtool"
echo "built promtool $VERSION in $(( $(date +%s) - start ))s" >&2
echo "$VERSION built $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s" >"$OUT/stamp"
echo "$OUT/promtool"
