#!/usr/bin/env bash
# Builds cert-manager-controller (build/cert-manager: cert-manager's Certificate pipeline from its main
# module, see main.go) into $CM_CACHE/bin and copies the CRDs of the same module version (deploy/crds)
# into $CM_CACHE/crds. Every compile runs at the lowest CPU and I/O priority: the machine is shared.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
: "${TB_CACHE:?}" "${CM_CACHE:?}"
export PATH="$PATH:/usr/local/go/bin"
gov="$(go env GOVERSION 2>/dev/null || true)"
[[ "$gov" =~ ^go1\.(2[6-9]|[3-9][0-9]) ]] ||
  { echo "build-cert-manager: needs Go 1.26 or newer (cert-manager 1.21 requires it), found '${gov:-no go}'; install Go 1.26" >&2; exit 1; }
export GOMODCACHE="$TB_CACHE/gomod" GOCACHE="$TB_CACHE/gocache" GOFLAGS="-modcacherw -buildvcs=false" GOTOOLCHAIN=local
cd "$here/build/cert-manager"
mod=github.com/cert-manager/cert-manager
version="$(go list -m -f '{{.Version}}' "$mod")"
go mod download "$mod"
src="$(go list -m -f '{{.Dir}}' "$mod")"
[[ -d "$src/deploy/crds" ]] || { echo "build-cert-manager: no deploy/crds in $mod@$version ('$src')" >&2; exit 1; }
out="$CM_CACHE.partial"
rm -rf "$out" && mkdir -p "$out/bin" "$out/crds"
CGO_ENABLED=0 nice -n 19 ionice -c3 go build -trimpath \
  -ldflags "-s -w -X $mod/pkg/util.AppVersion=$version" -o "$out/bin/cert-manager-controller" .
cp "$src"/deploy/crds/*.yaml "$out/crds/" && chmod 644 "$out"/crds/*.yaml
echo "$version" > "$out/version"
rm -rf "$CM_CACHE" && mv "$out" "$CM_CACHE"
