#!/usr/bin/env bash
# Builds Helm (helm.sh/helm/v3/cmd/helm) from the Go module proxy, once, into
# /var/cache/redis-ha/helm/<version>/helm; a stamp file says the build finished. The chart tests
# (test/helm-chart.test.ts) run that binary. Re-runs are instant. Prints the binary's path.
set -euo pipefail
VERSION="${REDIS_HA_HELM_VERSION:-v3.21.4}"
exec bash "$(dirname "$0")/go-tool.sh" helm helm.sh/helm/v3 "$VERSION" helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$VERSION"
