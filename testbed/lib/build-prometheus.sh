#!/usr/bin/env bash
# Builds the test bed's monitoring into $PM_CACHE: prometheus-operator (its `cmd/operator`, unchanged) as a
# host binary, and two images from host binaries (lib/mkimage.sh, lib/rootfs.sh): Prometheus
# (`cmd/prometheus` of the module promtool comes from) and prometheus-config-reloader (the operator's
# sidecar, `cmd/prometheus-config-reloader`); beside them the CRDs and the operator's ClusterRole of the same
# prometheus-operator version (`example/prometheus-operator-crd`, `example/rbac/prometheus-operator`).
# The Go builds go through scripts/go-tool.sh, in the Go caches scripts/build-promtool.sh fills
# (/var/cache/redis-ha/gomod and gobuild): Prometheus is the same module, version and flags as promtool, so
# most of its packages are compiled already. Every compile runs at the lowest CPU priority.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=common.sh
source "$here/lib/common.sh"
: "${TB_CACHE:?}" "${PM_CACHE:?}"
export PATH="$PATH:/usr/local/go/bin"
go_tool="$here/../scripts/go-tool.sh"
stamp_version=github.com/prometheus/common/version
prom_mod=github.com/prometheus/prometheus
op_mod=github.com/prometheus-operator/prometheus-operator
# Each prints its binary's path; a build it made once is reused (its own stamp under /var/cache/redis-ha/NAME/).
prometheus="$(bash "$go_tool" prometheus "$prom_mod" "$PROMETHEUS_MODULE_VERSION" "$prom_mod/cmd/prometheus" \
  "-X $stamp_version.Version=${PROMETHEUS_VERSION#v} -X $stamp_version.BuildUser=redis-ha-testbed")"
operator="$(bash "$go_tool" prometheus-operator "$op_mod" "$PROMETHEUS_OPERATOR_VERSION" "$op_mod/cmd/operator" \
  "-X $stamp_version.Version=${PROMETHEUS_OPERATOR_VERSION#v} -X $stamp_version.BuildUser=redis-ha-testbed")"
reloader="$(bash "$go_tool" prometheus-config-reloader "$op_mod" "$PROMETHEUS_OPERATOR_VERSION" "$op_mod/cmd/prometheus-config-reloader" \
  "-X $stamp_version.Version=${PROMETHEUS_OPERATOR_VERSION#v} -X $stamp_version.BuildUser=redis-ha-testbed")"
src="$(GOMODCACHE="${REDIS_HA_GOMODCACHE:-/var/cache/redis-ha/gomod}" GOFLAGS=-mod=mod GOTOOLCHAIN=local \
  go mod download -json "$op_mod@$PROMETHEUS_OPERATOR_VERSION" | jq -r .Dir)"
[[ -d "$src/example/prometheus-operator-crd" ]] ||
  { echo "build-prometheus: no example/prometheus-operator-crd in $op_mod@$PROMETHEUS_OPERATOR_VERSION ('$src')" >&2; exit 1; }

out="$PM_CACHE.partial"
rm -rf "$out" && mkdir -p "$out/bin" "$out/crds" "$out/rbac" "$out/images"
cp "$operator" "$out/bin/prometheus-operator"
cp "$src"/example/prometheus-operator-crd/*.yaml "$out/crds/"
cp "$src/example/rbac/prometheus-operator/prometheus-operator-cluster-role.yaml" "$out/rbac/"
chmod 644 "$out"/crds/*.yaml "$out"/rbac/*.yaml
# The images hold the binaries where the operator's pods run them (/bin/prometheus is the image's entrypoint;
# the reloader's containers name /bin/prometheus-config-reloader) and the libraries they load.
r="$(mktemp -d)"
trap 'rm -rf "$r"' EXIT
image() { # ref tarball binary path-in-image
  local dir="$r/$(basename "$4")"
  mkdir -p "$dir/bin" && cp "$3" "$dir$4"
  "$here/lib/rootfs.sh" "$dir" "$3"
  rm -f "$dir/$3"
  "$here/lib/mkimage.sh" "$1" "$out/images/$2" "$dir" -- "$4"
}
image "$PROMETHEUS_IMAGE" prometheus.tar "$prometheus" /bin/prometheus
image "$RELOADER_IMAGE" prometheus-config-reloader.tar "$reloader" /bin/prometheus-config-reloader
echo "prometheus-operator $PROMETHEUS_OPERATOR_VERSION, Prometheus $PROMETHEUS_VERSION" > "$out/version"
rm -rf "$PM_CACHE" && mv "$out" "$PM_CACHE"
