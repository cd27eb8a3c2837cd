#!/usr/bin/env bash
# A three-node Dynamo cluster (N=3, W=2, R=2, LSM engine with durability everysec, all
# nodes in one process on this machine) vs the local Redis, side by side with
# redis-benchmark against one node, printing our/Redis ratios.
# Usage: bench/dynamo-redis.sh [requests] [pipeline] [clients]
# KEYSPACE=1000000 spreads keys with `-r`. Redis: 127.0.0.1:${REDIS_PORT:-6379}.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
REQUESTS="${1:-200000}"
PIPELINE="${2:-16}"
CLIENTS="${3:-32}"
REDIS_PORT="${REDIS_PORT:-6379}"
cargo build --quiet --release -p blueprint-dynamo --example cluster
BIN="$CARGO_TARGET_DIR/release/examples/cluster"
LOG="$(mktemp)"
RUST_LOG=warn "$BIN" 3 3600 >"$LOG" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -f "$LOG"; }
trap cleanup EXIT
for _ in $(seq 100); do
    grep -q ready "$LOG" && break
    sleep 0.1
done
RESP_PORT="$(awk '/^node1 resp/ {split($3, a, ":"); print a[2]}' "$LOG")"

RANDOM_KEYS=()
[ -n "${KEYSPACE:-}" ] && RANDOM_KEYS=(-r "$KEYSPACE")
bench() { redis-benchmark -p "$1" -t set,get -n "$REQUESTS" -P "$PIPELINE" -c "$CLIENTS" -q "${RANDOM_KEYS[@]}" 2>/dev/null \
    | tr '\r' '\n' | grep 'requests per second' | awk '{print $1, $2}'; }
echo "redis-benchmark -t set,get -n $REQUESTS -P $PIPELINE -c $CLIENTS ${RANDOM_KEYS[*]} (requests/s; cluster N=3 W=2 R=2)"
OURS="$(bench "$RESP_PORT")"
THEIRS="$(bench "$REDIS_PORT")"
printf '%-6s %14s %14s %8s\n' test dynamo redis ratio
join <(echo "$OURS" | sort) <(echo "$THEIRS" | sort) \
    | awk '{ printf "%-6s %14.0f %14.0f %8.2f\n", $1, $2, $3, $2 / $3 }'
