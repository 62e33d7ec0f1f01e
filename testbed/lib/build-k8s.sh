#!/usr/bin/env bash
# Builds etcd, the Kubernetes components, kubectl and the pause process from the wrapper module into
# $TB_CACHE/bin. Every compile runs at the lowest CPU and I/O priority: the machine is shared.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
: "${TB_CACHE:?}"
export PATH="$PATH:/usr/local/go/bin"
gov="$(go env GOVERSION 2>/dev/null || true)"
[[ "$gov" =~ ^go1\.(2[6-9]|[3-9][0-9]) ]] ||
  { echo "build-k8s: needs Go 1.26 or newer (CoreDNS 1.15 requires it), found '${gov:-no go}'; install Go 1.26" >&2; exit 1; }
export GOMODCACHE="$TB_CACHE/gomod" GOCACHE="$TB_CACHE/gocache" GOFLAGS="-modcacherw -buildvcs=false" GOTOOLCHAIN=local
K8S_VERSION="$(cd "$here/build/k8s" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
[[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || { echo "build-k8s: unexpected k8s.io/kubernetes version '$K8S_VERSION'" >&2; exit 1; }
minor="${BASH_REMATCH[1]}"
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$K8S_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"
out="$TB_CACHE/bin.partial"
rm -rf "$out" && mkdir -p "$out"
cd "$here/build/k8s"
lo() { nice -n 19 ionice -c3 "$@"; }
# Static where upstream builds them static; kubelet too (no cgo feature of it is used here).
CGO_ENABLED=0 lo go build -trimpath -ldflags "$ldflags" -o "$out/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy \
  k8s.io/kubernetes/cmd/kubectl ./cmd/etcd ./cmd/pause
cd "$here/build/coredns"
CGO_ENABLED=0 lo go build -trimpath -ldflags "-s -w" -o "$out/coredns" .
rm -rf "$TB_CACHE/bin" && mv "$out" "$TB_CACHE/bin"
