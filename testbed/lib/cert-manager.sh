#!/usr/bin/env bash
# cert-manager in the test bed (testbed/README.md), idempotent:
#   lib/cert-manager.sh build   builds cert-manager-controller and fetches its CRDs when their inputs changed
#   lib/cert-manager.sh start   that, then on the running cluster: applies the CRDs (server-side) and the
#                               controller's RBAC, gives it a client certificate and kubeconfig, and starts it
#                               as a host process unless it runs already (restarts it when the build changed)
# testbed/up runs both; `start` alone adds cert-manager to a cluster that is already up. testbed/down stops it.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
[[ $EUID -eq 0 ]] || die "must run as root; run it with sudo"
NAME=cert-manager-controller
LEASE=cert-manager-controller   # in kube-system, as cert-manager's own controller names it

build() {
  build_cached "$NAME" CM_CACHE "$NAME" lib/build-cert-manager.sh build/cert-manager/go.mod build/cert-manager/go.sum build/cert-manager/main.go
}

# TERM (the controller then releases its Lease, so the next one need not wait for it to expire), KILL after 10 s.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$1" 2>/dev/null || true
}

lease_holder() { kc -n kube-system get lease "$LEASE" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

# The CRDs' names, from the files' (GROUP_PLURAL.yaml).
crd_names() { local f b; for f in "$CM_CACHE"/crds/*.yaml; do b="${f##*/}"; b="${b%.yaml}"; echo "${b#*_}.${b%%_*}"; done; }

start_controller() {
  local kubeconfig="$TB_RUN/etc/$NAME.kubeconfig" build_id
  build_id="$(cat "$CM_CACHE.stamp")"
  # Running this build, and its CRDs are there: nothing to do (one API call, as `up` on a running cluster).
  if alive "$NAME" && [[ "$(cat "$TB_RUN/$NAME.build" 2>/dev/null)" == "$build_id" ]] &&
    kc get crd $(crd_names) >/dev/null 2>&1; then
    log "cert-manager-controller already running"
    return 0
  fi
  kc get --raw /readyz >/dev/null 2>&1 || die "the test bed's API server is not answering; run testbed/up"
  kc apply --server-side --field-manager=redis-ha-testbed --force-conflicts -f "$CM_CACHE/crds/" >/dev/null
  crds_established "$CM_CACHE/crds/"
  kc apply -f "$TB_HOME/lib/cert-manager-rbac.yaml" >/dev/null
  if [[ ! -f "$kubeconfig" ]]; then
    tb_cert "$NAME" "/CN=$NAME"
    tb_kubeconfig "$kubeconfig" "$NAME"
  fi
  if alive "$NAME"; then
    if [[ "$(cat "$TB_RUN/$NAME.build" 2>/dev/null)" == "$build_id" ]]; then
      log "cert-manager-controller already running; its CRDs were missing and are back"
      return 0
    fi
    log "cert-manager-controller was rebuilt: restarting it"
    stop_pid "$(pid_of "$NAME")"
  fi
  # A controller whose pid file went away with an earlier cluster's runtime dir (a `down` that did not know
  # it) would hold on against the new API server: this binary on this runtime dir's kubeconfig is ours.
  local p
  for p in /proc/[0-9]*; do
    [[ "$(tr '\0' ' ' 2>/dev/null < "$p/cmdline")" == "$CM_CACHE/bin/$NAME --kubeconfig $kubeconfig "* ]] || continue
    log "stopping a cert-manager-controller left from an earlier cluster (pid ${p#/proc/})"
    stop_pid "${p#/proc/}"
  done
  start "$NAME" "$CM_CACHE/bin/$NAME" --kubeconfig "$kubeconfig" --leader-election-namespace kube-system --v=2
  echo "$build_id" > "$TB_RUN/$NAME.build"
  # Up when it holds the Lease (it starts the controllers right after); the identity ends in its pid.
  local me; me="$(cat /proc/sys/kernel/hostname)_$(pid_of "$NAME")"
  leading() { [[ "$(lease_holder)" == "$me" ]]; }
  wait_for "cert-manager-controller holding the Lease kube-system/$LEASE" 60 "$NAME" leading
  log "cert-manager-controller $(cat "$CM_CACHE/version") running (log: $TB_RUN/logs/$NAME.log)"
}

case "${1:-}" in
  build) build ;;
  start) build; start_controller ;;
  *) die "usage: $0 build|start" ;;
esac
