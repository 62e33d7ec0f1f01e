#!/usr/bin/env bash
# NetworkPolicy enforcement in the test bed: kube-network-policies (testbed/README.md, "NetworkPolicy"),
# idempotent:
#   lib/kube-network-policies.sh build   builds it when its inputs changed (lib/build-kube-network-policies.sh),
#                                        and its image when the binary changed
#   lib/kube-network-policies.sh start   that, then on the running cluster: imports the image when it changed,
#                                        applies its RBAC and DaemonSet, and waits until it enforces (its
#                                        nftables table is there and a process listens on its queue)
#   lib/kube-network-policies.sh stop    removes its nftables table (a killed pod leaves it; down runs this)
# testbed/up runs build and start; `start` alone adds it to a cluster that is already up.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
[[ $EUID -eq 0 ]] || die "must run as root; run it with sudo"

build() {
  build_cached kube-network-policies NP_CACHE kube-network-policies lib/build-kube-network-policies.sh \
    build/kube-network-policies/go.mod build/kube-network-policies/go.sum 'build/kube-network-policies/_overlay/nftables/expr/*.go' \
    'build/kube-network-policies/_overlay/networkpolicy/*.go'
  local stamp r
  stamp="$( (stamp_of lib/mkimage.sh; sha256sum "$NP_CACHE/bin/kube-network-policies") | sha256sum | cut -d' ' -f1)"
  [[ "$(cat "$NP_CACHE/image.stamp" 2>/dev/null)" != "$stamp" || ! -f "$NP_CACHE/image.tar" ]] || return 0
  r="$(mktemp -d)"
  cp "$NP_CACHE/bin/kube-network-policies" "$r/kube-network-policies"
  "$TB_HOME/lib/mkimage.sh" "$(np_image)" "$NP_CACHE/image.tar" "$r" -- /kube-network-policies
  rm -rf "$r"
  echo "$stamp" > "$NP_CACHE/image.stamp"
}

np_image() { echo "$NP_IMAGE_REPO:$(cat "$NP_CACHE/version")"; }

# Enforcing: the DaemonSet's pod of this build runs, its table is in the host's nftables, and a process is
# bound to its queue (/proc/net/netfilter/nfnetlink_queue: queue number, then the listener's port id).
table_there() { nft list table inet "$NP_TABLE" >/dev/null 2>&1; }
queue_bound() { awk -v q="$NP_QUEUE" '$1 == q && $2 != 0 {found=1} END {exit !found}' /proc/net/netfilter/nfnetlink_queue 2>/dev/null; }
enforcing() { table_there && queue_bound; }

start_np() {
  local build_id
  build_id="$(cat "$NP_CACHE/image.stamp")"
  kc get --raw /readyz >/dev/null 2>&1 || die "the test bed's API server is not answering; run testbed/up"
  if [[ "$(cat "$TB_RUN/kube-network-policies.image" 2>/dev/null)" != "$build_id" ]]; then
    ctr_ images import "$NP_CACHE/image.tar" >/dev/null
    echo "$build_id" > "$TB_RUN/kube-network-policies.image"
  fi
  sed -e "s|@IMAGE@|$(np_image)|g" -e "s|@BUILD@|$build_id|g" -e "s|@QUEUE@|$NP_QUEUE|g" \
    -e "s|@METRICS_PORT@|$NP_METRICS_PORT|g" -e "s|@VERSION@|$(cat "$NP_CACHE/version")|g" -e "s|@POD_IPS_DIR@|$POD_IPS_DIR|g" -e "s|@NODE@|$NODE_NAME|g" \
    "$TB_HOME/lib/kube-network-policies.yaml" | kc apply -f - >/dev/null
  kc -n kube-system rollout status daemonset/kube-network-policies --timeout=120s >/dev/null ||
    die "kube-network-policies did not start: $(kc -n kube-system logs daemonset/kube-network-policies --tail=5 2>&1 | tr '\n' ' ')"
  local deadline=$((SECONDS + 60))
  until enforcing; do
    ((SECONDS < deadline)) ||
      die "kube-network-policies runs but does not enforce (table inet $NP_TABLE: $(table_there && echo there || echo missing), queue $NP_QUEUE: $(queue_bound && echo bound || echo unbound)); its log: kubectl -n kube-system logs daemonset/kube-network-policies"
    sleep 0.5
  done
  log "kube-network-policies $(cat "$NP_CACHE/version") enforcing NetworkPolicy (nftables table inet $NP_TABLE, queue $NP_QUEUE)"
}

stop_np() {
  nft delete table inet "$NP_TABLE" 2>/dev/null || true
}

case "${1:-}" in
  build) build ;;
  start) build; start_np ;;
  stop) stop_np ;;
  *) die "usage: $0 build|start|stop" ;;
esac
