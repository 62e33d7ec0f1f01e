#!/bin/sh
# redis-cli against Sentinel: ask for the master, then talk to it. Passwords travel in REDISCLI_AUTH,
# never on the command line.
set -e
sentinel_port=${SENTINEL_PORT:-6410}
set -- $(REDISCLI_AUTH="$SENTINEL_PASSWORD" redis-cli -p "$sentinel_port" --raw SENTINEL get-master-addr-by-name "${MASTER_NAME:-redis-ha-local}")
REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h "$1" -p "$2" SET greeting "hello from redis-cli" >/dev/null
REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h "$1" -p "$2" GET greeting
