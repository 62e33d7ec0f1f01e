#!/usr/bin/env bash
# Fetches the upstream schemas the render tests validate against, through the Go module proxy (the
# only source reachable besides package registries): the Kubernetes OpenAPI v3 spec from the
# k8s.io/kubernetes module, the prometheus-operator CRDs from its module and the cert-manager CRDs
# (deploy/crds) from its module. Cached, so re-runs are instant. Versions must match test/k8s-schemas.ts.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"
export GOMODCACHE="${REDIS_HA_GOMODCACHE:-/var/cache/redis-ha/gomod}" GOFLAGS=-mod=mod GOTOOLCHAIN=local
command -v go >/dev/null || { echo "fetch-schemas: go not found; install golang-go" >&2; exit 1; }
mkdir -p "$GOMODCACHE"
cd "$(mktemp -d)"
for module in k8s.io/kubernetes@v1.34.4 github.com/prometheus-operator/prometheus-operator@v0.85.0 \
  github.com/cert-manager/cert-manager@v1.21.2; do
  go mod download "$module"
done
