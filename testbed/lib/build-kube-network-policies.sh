#!/usr/bin/env bash
# Builds kube-network-policies' command (sigs.k8s.io/kube-network-policies/cmd, unchanged, with its own
# dependency versions: build/kube-network-policies) into $NP_CACHE/bin/kube-network-policies, statically
# (CGO off: the image holds nothing else). One file of one dependency is swapped: github.com/google/nftables
# is copied from the module cache (as downloaded and checksum-verified), its expr/queue.go replaced by
# build/kube-network-policies/_overlay/nftables/expr/queue.go (this kernel has no nft_queue; see that file),
# and the build uses that copy through a `replace` in a go.mod of its own (-modfile); build/'s go.mod is
# left as it is. One function of kube-network-policies is extended the same way, in a copy of it (below). Every compile runs at the lowest CPU and I/O priority: the machine is shared.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
: "${TB_CACHE:?}" "${NP_CACHE:?}"
export PATH="$PATH:/usr/local/go/bin"
gov="$(go env GOVERSION 2>/dev/null || true)"
[[ "$gov" =~ ^go1\.(2[3-9]|[3-9][0-9]) ]] ||
  { echo "build-kube-network-policies: needs Go 1.23 or newer, found '${gov:-no go}'; install Go 1.26" >&2; exit 1; }
export GOMODCACHE="$TB_CACHE/gomod" GOCACHE="$TB_CACHE/gocache" GOFLAGS="-modcacherw -buildvcs=false" GOTOOLCHAIN=local
cd "$here/build/kube-network-policies"
mod=sigs.k8s.io/kube-network-policies
version="$(go list -m -f '{{.Version}}' "$mod")"
go mod download "$mod" github.com/google/nftables
nft_dir="$(go list -m -f '{{.Dir}}' github.com/google/nftables)"
nft_version="$(go list -m -f '{{.Version}}' github.com/google/nftables)"
# The overlay replaces exactly the file of the version it was written against.
[[ "$nft_version" == v0.3.0 && -f "$nft_dir/expr/queue.go" ]] ||
  { echo "build-kube-network-policies: _overlay/nftables/expr/queue.go is for github.com/google/nftables v0.3.0, the build has $nft_version; rewrite it for that version" >&2; exit 1; }
out="$NP_CACHE.partial"
rm -rf "$out" && mkdir -p "$out/bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$nft_dir" "$work/nftables" && chmod -R u+w "$work/nftables"
cp _overlay/nftables/expr/queue.go "$work/nftables/expr/queue.go"
cp go.mod "$work/go.mod" && cp go.sum "$work/go.sum"
go mod edit -modfile "$work/go.mod" -replace "github.com/google/nftables=$work/nftables"
# The pod behind an IP the API server does not show yet (_overlay/networkpolicy/pod_ips.go): a copy of the
# module (as downloaded) whose nri.go has its GetPodFromIP renamed getPodFromNRI, our file beside it.
knp_dir="$(go list -m -f '{{.Dir}}' "$mod")"
grep -q '^func (p \*nriPlugin) GetPodFromIP(ip string) string {$' "$knp_dir/pkg/networkpolicy/nri.go" ||
  { echo "build-kube-network-policies: $mod $version's nri.go has no GetPodFromIP as _overlay/networkpolicy/pod_ips.go expects; rewrite it for that version" >&2; exit 1; }
cp -r "$knp_dir" "$work/kube-network-policies" && chmod -R u+w "$work/kube-network-policies"
sed -i 's/^func (p \*nriPlugin) GetPodFromIP(ip string) string {$/func (p *nriPlugin) getPodFromNRI(ip string) string {/' "$work/kube-network-policies/pkg/networkpolicy/nri.go"
cp _overlay/networkpolicy/pod_ips.go "$work/kube-network-policies/pkg/networkpolicy/pod_ips.go"
# Rules replaced in place, never by deleting the table (_overlay/networkpolicy/keep_hooks.go says why):
# syncNFTablesRules' delete and re-add of the table becomes keepHooks, our file beside it.
controller="$work/kube-network-policies/pkg/networkpolicy/controller.go"
[[ "$(perl -0ne 'print scalar(() = /\tnft\.AddTable\(table\)\n\tnft\.DelTable\(table\)\n\tnft\.AddTable\(table\)\n/g)' "$controller")" == 1 ]] ||
  { echo "build-kube-network-policies: $mod $version's controller.go does not re-create its table as _overlay/networkpolicy/keep_hooks.go expects; rewrite it for that version" >&2; exit 1; }
perl -0pi -e 's/\tnft\.AddTable\(table\)\n\tnft\.DelTable\(table\)\n\tnft\.AddTable\(table\)\n/\tnft.AddTable(table)\n\tkeepHooks(nft, table)\n/' "$controller"
cp _overlay/networkpolicy/keep_hooks.go "$work/kube-network-policies/pkg/networkpolicy/keep_hooks.go"
go mod edit -modfile "$work/go.mod" -replace "$mod=$work/kube-network-policies"
CGO_ENABLED=0 nice -n 19 ionice -c3 go build -trimpath -modfile "$work/go.mod" -ldflags "-s -w" \
  -o "$out/bin/kube-network-policies" "$mod/cmd"
echo "$version" > "$out/version"
rm -rf "$NP_CACHE" && mv "$out" "$NP_CACHE"
