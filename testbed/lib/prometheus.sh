#!/usr/bin/env bash
# Monitoring in the test bed (testbed/README.md, "Prometheus"), idempotent:
#   lib/prometheus.sh build   builds prometheus-operator and the Prometheus and config-reloader images, and
#                             fetches the CRDs and ClusterRole of the operator's version, when their inputs changed
#   lib/prometheus.sh start   that, then on the running cluster: imports the images, applies the CRDs
#                             (server-side), the RBAC and the Prometheus monitoring/testbed (lib/prometheus.yaml),
#                             gives the operator a client certificate (pki/) and starts it as a host process unless it
#                             runs already (restarted when rebuilt); waits until that Prometheus is Available
# testbed/up runs build and start; `start` alone adds monitoring to a cluster that is already up. testbed/down
# stops the operator (the Prometheus pod goes with the cluster).
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
[[ $EUID -eq 0 ]] || die "must run as root; run it with sudo"
NAME=prometheus-operator

build() {
  build_cached "prometheus-operator and Prometheus" PM_CACHE \
    prometheus-operator lib/build-prometheus.sh lib/common.sh lib/mkimage.sh lib/rootfs.sh ../scripts/go-tool.sh
}

# TERM, KILL after 10 s.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$1" 2>/dev/null || true
}

# The CRDs' names, from the files' (GROUP_PLURAL.yaml).
crd_names() { local f b; for f in "$PM_CACHE"/crds/*.yaml; do b="${f##*/}"; b="${b%.yaml}"; echo "${b#*_}.${b%%_*}"; done; }
manifests() {
  sed -e "s|@PROM_NS@|$PROM_NS|g" -e "s|@PROM_NAME@|$PROM_NAME|g" -e "s|@PROM_IP@|$PROM_IP|g" \
    -e "s|@PROMETHEUS_VERSION@|$PROMETHEUS_VERSION|g" -e "s|@PROMETHEUS_IMAGE@|$PROMETHEUS_IMAGE|g" "$TB_HOME/lib/prometheus.yaml"
}
available() {
  [[ "$(kc -n "$PROM_NS" get prometheus "$PROM_NAME" -o jsonpath='{.status.conditions[?(@.type=="Available")].status}')" == True ]]
}
start_monitoring() {
  local build_id p t0=$SECONDS
  build_id="$(cat "$PM_CACHE.stamp")"
  # Running this build, its CRDs are there and its Prometheus is Available: nothing to do (two API calls).
  if alive "$NAME" && [[ "$(cat "$TB_RUN/$NAME.build" 2>/dev/null)" == "$build_id" ]] &&
    kc get crd $(crd_names) >/dev/null 2>&1 && available 2>/dev/null; then
    log "prometheus-operator and Prometheus $PROM_NS/$PROM_NAME already running"
    return 0
  fi
  kc get --raw /readyz >/dev/null 2>&1 || die "the test bed's API server is not answering; run testbed/up"
  local imported=0
  if [[ "$(cat "$TB_RUN/prometheus-images.imported" 2>/dev/null)" != "$build_id" ]]; then
    for p in "$PM_CACHE"/images/*.tar; do ctr_ images import "$p" >/dev/null; done
    echo "$build_id" > "$TB_RUN/prometheus-images.imported"
    imported=1
  fi
  # Server-side: the Prometheus CRD is larger than the last-applied annotation allows.
  kc apply --server-side --field-manager=redis-ha-testbed --force-conflicts -f "$PM_CACHE/crds/" >/dev/null
  crds_established "$PM_CACHE/crds/"
  kc apply -f "$PM_CACHE/rbac/" >/dev/null
  manifests | kc apply -f - >/dev/null
  [[ -f "$TB_RUN/pki/$NAME.crt" ]] || tb_cert "$NAME" "/CN=$NAME"
  if alive "$NAME"; then
    if [[ "$(cat "$TB_RUN/$NAME.build" 2>/dev/null)" != "$build_id" ]]; then
      log "prometheus-operator was rebuilt: restarting it"
      stop_pid "$(pid_of "$NAME")"
    fi
  fi
  if ! alive "$NAME"; then
    # One whose pid file went away with an earlier cluster's runtime dir: this binary on this runtime dir is ours.
    for p in /proc/[0-9]*; do
      [[ "$(tr '\0' ' ' 2>/dev/null < "$p/cmdline")" == "$PM_CACHE/bin/$NAME "*"$TB_RUN/pki/$NAME.crt "* ]] || continue
      log "stopping a prometheus-operator left from an earlier cluster (pid ${p#/proc/})"
      stop_pid "${p#/proc/}"
    done
    if ss -Hltn "sport = :$PROM_OPERATOR_PORT" | grep -q .; then
      die "port $PROM_OPERATOR_PORT is in use ($(ss -Hltnp "sport = :$PROM_OPERATOR_PORT" | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -1 | sed 's/users:(("//; s/",/ /')); prometheus-operator's web server needs it: stop what listens there"
    fi
    # It takes no kubeconfig: the API server's address and its client certificate as flags. The config
    # reloader's image is ours; the Prometheus image is in the Prometheus resource.
    start "$NAME" "$PM_CACHE/bin/$NAME" --cert-file "$TB_RUN/pki/$NAME.crt" --key-file "$TB_RUN/pki/$NAME.key" \
      --ca-file "$TB_RUN/pki/ca.crt" --apiserver "https://$NODE_IP:$API_PORT" \
      --prometheus-config-reloader "$RELOADER_IMAGE" --web.listen-address "127.0.0.1:$PROM_OPERATOR_PORT" \
      --cluster-domain "$CLUSTER_DOMAIN"
    echo "$build_id" > "$TB_RUN/$NAME.build"
  fi
  # A Prometheus pod that runs an image rebuilt under the same tag is replaced (the StatefulSet makes it again).
  if ((imported)); then kc -n "$PROM_NS" delete pod "prometheus-$PROM_NAME-0" --ignore-not-found --wait=false >/dev/null; fi
  # Available: the operator made the StatefulSet and its pod is Ready (Prometheus answers /-/ready).
  wait_for "Prometheus $PROM_NS/$PROM_NAME Available" 180 "$NAME" available
  log "prometheus-operator $PROMETHEUS_OPERATOR_VERSION running (log: $TB_RUN/logs/$NAME.log); Prometheus $PROMETHEUS_VERSION at http://$PROM_IP:9090 (ready in $((SECONDS - t0)) s)"
}

case "${1:-}" in
  build) build ;;
  start) build; start_monitoring ;;
  *) die "usage: $0 build|start" ;;
esac
