#!/usr/bin/env bash
# Builds MetalLB's controller and speaker (build/metallb: MetalLB's own `main` packages, unchanged) into
# $LB_CACHE/bin and copies the CRDs of the same module version (config/crd/bases) into $LB_CACHE/crds.
# Every compile runs at the lowest CPU and I/O priority: the machine is shared.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
: "${TB_CACHE:?}" "${LB_CACHE:?}"
export PATH="$PATH:/usr/local/go/bin"
gov="$(go env GOVERSION 2>/dev/null || true)"
[[ "$gov" =~ ^go1\.(2[4-9]|[3-9][0-9]) ]] ||
  { echo "build-metallb: needs Go 1.24 or newer (MetalLB 0.15 requires it), found '${gov:-no go}'; install Go 1.26" >&2; exit 1; }
export GOMODCACHE="$TB_CACHE/gomod" GOCACHE="$TB_CACHE/gocache" GOFLAGS="-modcacherw -buildvcs=false" GOTOOLCHAIN=local
cd "$here/build/metallb"
mod=go.universe.tf/metallb
version="$(go list -m -f '{{.Version}}' "$mod")"
go mod download "$mod"
src="$(go list -m -f '{{.Dir}}' "$mod")"
[[ -d "$src/config/crd/bases" ]] || { echo "build-metallb: no config/crd/bases in $mod@$version ('$src')" >&2; exit 1; }
out="$LB_CACHE.partial"
rm -rf "$out" && mkdir -p "$out/bin" "$out/crds"
# Only the two commands (no FRR, no frr-k8s); their version is in MetalLB's source (internal/version).
CGO_ENABLED=0 nice -n 19 ionice -c3 go build -trimpath -ldflags "-s -w" -o "$out/bin/" "$mod/controller" "$mod/speaker"
mv "$out/bin/controller" "$out/bin/metallb-controller"
mv "$out/bin/speaker" "$out/bin/metallb-speaker"
cp "$src"/config/crd/bases/*.yaml "$out/crds/" && chmod 644 "$out"/crds/*.yaml
echo "$version" > "$out/version"
rm -rf "$LB_CACHE" && mv "$out" "$LB_CACHE"
