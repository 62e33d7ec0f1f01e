#!/usr/bin/env bash
# Builds promtool (github.com/prometheus/prometheus/cmd/promtool) from the Go module proxy, once, into
# /var/cache/redis-ha/promtool/<version>/promtool; a stamp file says the build finished. The alert-rule
# tests (test/alert-rules.test.ts) run `promtool check rules` and `promtool test rules` with it. Re-runs
# are instant. Prints the binary's path.
set -euo pipefail
# Prometheus's Go module is versioned v0.<minor*100+patch>: v0.316.0 is Prometheus 3.16.0.
VERSION="${REDIS_HA_PROMETHEUS_VERSION:-v0.316.0}"
exec bash "$(dirname "$0")/go-tool.sh" promtool github.com/prometheus/prometheus "$VERSION" github.com/prometheus/prometheus/cmd/promtool
