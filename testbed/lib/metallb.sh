#!/usr/bin/env bash
# MetalLB in the test bed (testbed/README.md, "Load balancers"), idempotent:
#   lib/metallb.sh build   builds metallb-controller and metallb-speaker and fetches their CRDs when their inputs changed
#   lib/metallb.sh start   that, then: the bridge $LB_IF and its iptables chains; on the running cluster MetalLB's
#                          CRDs (server-side), RBAC, the pool and L2Advertisement; a client certificate and kubeconfig
#                          for each; both started as host processes unless they run already (restarted when rebuilt)
#   lib/metallb.sh stop    stops both and removes the bridge, the client network namespace and the chains (down runs it)
# testbed/up runs build and start; `start` alone adds MetalLB to a cluster that is already up.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
[[ $EUID -eq 0 ]] || die "must run as root; run it with sudo"
NS=metallb-system
PROCS=(metallb-controller metallb-speaker)

build() {
  build_cached "MetalLB's controller and speaker" LB_CACHE metallb-speaker lib/build-metallb.sh build/metallb/go.mod build/metallb/go.sum build/metallb/tools.go
}

# Replaces the rules of an iptables chain (creating it) when they differ from the ones given, one per argument.
ensure_chain() { # table chain rule...
  local table="$1" chain="$2"; shift 2
  local want have r
  want="$(printf -- "-N %s\n" "$chain"; for r in "$@"; do printf -- "-A %s %s\n" "$chain" "$r"; done)"
  have="$(iptables -w -t "$table" -S "$chain" 2>/dev/null || true)"
  [[ "$have" == "$want" ]] && return 0
  iptables -w -t "$table" -N "$chain" 2>/dev/null || iptables -w -t "$table" -F "$chain"
  # shellcheck disable=SC2086
  for r in "$@"; do iptables -w -t "$table" -A "$chain" $r; done
}
# The jump to a chain as the first rule of a built-in chain (ahead of the guard and of kube-proxy's), once.
ensure_first() { # builtin chain
  local nums n
  [[ "$(iptables -w -S "$1" | sed -n 2p)" == "-A $1 -j $2" ]] && [[ "$(iptables -w -S "$1" | grep -c -- "-j $2\$")" == 1 ]] && return 0
  iptables -w -I "$1" 1 -j "$2"
  nums="$(iptables -w -L "$1" -n --line-numbers | awk -v c="$2" '$2 == c && $1 != 1 {print $1}' | sort -rn)"
  for n in $nums; do iptables -w -D "$1" "$n"; done
}

# The bridge load-balancer addresses live on, and what may cross it. The speaker answers ARP for pool
# addresses there; kube-proxy DNATs a packet for one of them to a pod (nat PREROUTING), so it is forwarded
# to the pods' bridge: that, and its replies, is all that crosses. Anything else from the bridge is rejected,
# nothing else is forwarded to it, and the host's own services do not answer it. IPv6 is off on it (iptables
# rules are IPv4, and a link-local address would reach the host's wildcard listeners).
net_up() {
  if ! ip link show "$LB_IF" >/dev/null 2>&1; then
    ip link add "$LB_IF" address "$LB_MAC" type bridge
    [[ ! -e "/proc/sys/net/ipv6/conf/$LB_IF" ]] || echo 1 > "/proc/sys/net/ipv6/conf/$LB_IF/disable_ipv6"
    ip addr add "$LB_IP/${LB_CIDR#*/}" dev "$LB_IF"
  fi
  ip link set "$LB_IF" up
  ensure_chain filter "$LB_CHAIN" \
    "-i $LB_IF -o $BRIDGE -m conntrack --ctstate DNAT --ctorigdst $LB_CIDR -j ACCEPT" \
    "-i $BRIDGE -o $LB_IF -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" \
    "-i $LB_IF -j REJECT --reject-with icmp-port-unreachable" \
    "-o $LB_IF -j DROP"
  ensure_chain filter "$LB_IN_CHAIN" \
    "-i $LB_IF -j REJECT --reject-with icmp-port-unreachable" \
    "! -i lo -p tcp -m tcp --dport $MLB_CONTROLLER_METRICS_PORT -j REJECT --reject-with icmp-port-unreachable"
  ensure_first FORWARD "$LB_CHAIN"
  ensure_first INPUT "$LB_IN_CHAIN"
}

net_down() {
  ip netns del "$CLIENT_NETNS" 2>/dev/null || true
  ip link del "$CLIENT_VETH" 2>/dev/null || true
  ip link del "$LB_IF" 2>/dev/null || true
  local c b
  for c in "$LB_CHAIN:FORWARD" "$LB_IN_CHAIN:INPUT"; do
    b="${c#*:}"; c="${c%%:*}"
    while iptables -w -D "$b" -j "$c" 2>/dev/null; do :; done
    iptables -w -F "$c" 2>/dev/null || true; iptables -w -X "$c" 2>/dev/null || true
  done
  return 0
}

# TERM, KILL after 10 s.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$1" 2>/dev/null || true
}

# The CRDs' names, from the files' (GROUP_PLURAL.yaml).
crd_names() { local f b; for f in "$LB_CACHE"/crds/*.yaml; do b="${f##*/}"; b="${b%.yaml}"; echo "${b#*_}.${b%%_*}"; done; }

# Evidence that each has read the configuration (MetalLB logs JSON lines), and the speaker's ARP responder on
# the bridge (it scans the host's interfaces at start, then every 10 s). start truncates the logs.
logged() { grep -F "$2" "$TB_RUN/logs/$1.log" | grep -qF "$3"; }
controller_ready() { logged metallb-controller '"controller":"PoolReconciler"' '"event":"config reloaded"'; }
speaker_ready() {
  logged metallb-speaker '"controller":"ConfigReconciler"' '"event":"config reloaded"' &&
    logged metallb-speaker "\"interface\":\"$LB_IF\"" '"event":"createARPResponder"'
}

start_lb() {
  local build_id p name
  build_id="$(cat "$LB_CACHE.stamp")"
  net_up
  # Both running this build, and their CRDs are there: nothing to do (one API call, as `up` on a running cluster).
  if alive metallb-controller && alive metallb-speaker && [[ "$(cat "$TB_RUN/metallb.build" 2>/dev/null)" == "$build_id" ]] &&
    kc get crd $(crd_names) >/dev/null 2>&1; then
    log "MetalLB already running"
    return 0
  fi
  kc get --raw /readyz >/dev/null 2>&1 || die "the test bed's API server is not answering; run testbed/up"
  kc apply --server-side --field-manager=redis-ha-testbed --force-conflicts -f "$LB_CACHE/crds/" >/dev/null
  crds_established "$LB_CACHE/crds/"
  kc apply -f "$TB_HOME/lib/metallb-rbac.yaml" >/dev/null
  sed -e "s|@LB_POOL@|$LB_POOL|g" -e "s|@LB_IF@|$LB_IF|g" -e "s|@PAUSE_IMAGE@|$PAUSE_IMAGE|g" -e "s|@NODE_NAME@|$NODE_NAME|g" \
    "$TB_HOME/lib/metallb.yaml" | kc apply -f - >/dev/null
  for name in "${PROCS[@]}"; do
    local kubeconfig="$TB_RUN/etc/$name.kubeconfig"
    if [[ ! -f "$kubeconfig" ]]; then
      tb_cert "$name" "/CN=$name"
      tb_kubeconfig "$kubeconfig" "$name"
    fi
    if alive "$name"; then
      [[ "$(cat "$TB_RUN/metallb.build" 2>/dev/null)" == "$build_id" ]] && continue
      log "$name was rebuilt: restarting it"
      stop_pid "$(pid_of "$name")"
    fi
    # One whose pid file went away with an earlier cluster's runtime dir: this binary on this kubeconfig is ours.
    for p in /proc/[0-9]*; do
      [[ "$(tr '\0' ' ' 2>/dev/null < "$p/cmdline")" == "$LB_CACHE/bin/$name --kubeconfig $kubeconfig "* ]] || continue
      log "stopping a $name left from an earlier cluster (pid ${p#/proc/})"
      stop_pid "${p#/proc/}"
    done
    local port=$MLB_SPEAKER_METRICS_PORT
    [[ "$name" == metallb-controller ]] && port=$MLB_CONTROLLER_METRICS_PORT
    if ss -Hltn "sport = :$port" | grep -q .; then
      die "port $port is in use ($(ss -Hltnp "sport = :$port" | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -1 | sed 's/users:(("//; s/",/ /')); $name's metrics server needs it: stop what listens there"
    fi
    if [[ "$name" == metallb-controller ]]; then
      # No webhooks (nothing to serve, no certificates to rotate). Its metrics server has no address flag: it
      # listens on all addresses, and the INPUT chain keeps that port to loopback.
      start "$name" "$LB_CACHE/bin/$name" --kubeconfig "$kubeconfig" --namespace "$NS" \
        --webhook-mode disabled --disable-cert-rotation --port "$MLB_CONTROLLER_METRICS_PORT"
    else
      # Layer 2 only, no memberlist (one node: no --ml-bindaddr), metrics on loopback.
      start "$name" "$LB_CACHE/bin/$name" --kubeconfig "$kubeconfig" --namespace "$NS" --pod-name metallb-speaker \
        --node-name "$NODE_NAME" --host 127.0.0.1 --port "$MLB_SPEAKER_METRICS_PORT"
    fi
  done
  echo "$build_id" > "$TB_RUN/metallb.build"
  wait_for "metallb-controller reading the pool" 60 metallb-controller controller_ready
  wait_for "metallb-speaker reading the configuration and answering ARP on $LB_IF" 60 metallb-speaker speaker_ready
  log "MetalLB $(cat "$LB_CACHE/version") running: pool $LB_POOL announced on $LB_IF (logs: $TB_RUN/logs/metallb-*.log)"
}

stop_lb() {
  local name
  for name in "${PROCS[@]}"; do
    alive "$name" && stop_pid "$(pid_of "$name")"
  done
  net_down
}

case "${1:-}" in
  build) build ;;
  start) build; start_lb ;;
  stop) stop_lb ;;
  *) die "usage: $0 build|start|stop" ;;
esac
