#!/usr/bin/env bash
# Builds one Go command from the Go module proxy, once, into /var/cache/redis-ha/<name>/<version>/<name>;
# a stamp file says the build finished, so re-runs are instant. Prints the binary's path.
#   go-tool.sh NAME MODULE VERSION PACKAGE [LDFLAGS]
# Used by build-helm.sh and build-promtool.sh.
set -euo pipefail
name=$1 module=$2 version=$3 package=$4 ldflags=${5:-}
export PATH="$PATH:/usr/local/go/bin"
CACHE="${REDIS_HA_CACHE:-/var/cache/redis-ha}"
export GOMODCACHE="${REDIS_HA_GOMODCACHE:-$CACHE/gomod}" GOFLAGS=-mod=mod GOTOOLCHAIN=local
export GOCACHE="$CACHE/gobuild"
OUT="$CACHE/$name/$version"
if [[ -f "$OUT/stamp" && -x "$OUT/$name" ]]; then
  echo "$OUT/$name"
  exit 0
fi
command -v go >/dev/null || { echo "build-$name: go not found; install golang-go" >&2; exit 1; }
mkdir -p "$OUT" "$GOMODCACHE" "$GOCACHE"
start=$(date +%s)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init "build-$name" >/dev/null 2>&1
go get "$module@$version" >&2
# Low priority: the machine is shared; -trimpath and no debug info keep the binary small.
nice -n 19 go build -trimpath -ldflags "-s -w $ldflags" -o "$OUT/$name.tmp" "$package" >&2
mv "$OUT/$name.tmp" "$OUT/$name"
echo "built $name $version in $(( $(date +%s) - start ))s" >&2
echo "$version built $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s" >"$OUT/stamp"
echo "$OUT/$name"
