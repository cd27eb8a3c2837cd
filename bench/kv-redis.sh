#!/usr/bin/env bash
# Our RESP server (`blueprint kv serve`, LSM engine, durability everysec like Redis AOF)
# vs the local Redis, side by side with redis-benchmark, printing our/Redis ratios.
# Usage: bench/kv-redis.sh [requests] [pipeline] [clients]
# KEYSPACE=1000000 spreads keys with `-r` (by default redis-benchmark hits one key, which
# measures hot-key overwrites). DURABILITY=always|everysec|no sets ours (default everysec).
# Redis: 127.0.0.1:${REDIS_PORT:-6379}. Needs redis-benchmark and a release build
# (this script builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
REQUESTS="${1:-200000}"
PIPELINE="${2:-16}"
CLIENTS="${3:-32}"
REDIS_PORT="${REDIS_PORT:-6379}"
BIN="$CARGO_TARGET_DIR/release/blueprint"
# Always build: a stale binary would measure old code. A no-op when it is fresh.
cargo build --quiet --release -p blueprint

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP_PORT="$(free_port)"
RESP_PORT="$(free_port)"
DATA="$(mktemp -d)"
BLUEPRINT_KV__RESP_PORT="$RESP_PORT" BLUEPRINT_KV__DURABILITY="${DURABILITY:-everysec}" RUST_LOG=warn \
    "$BIN" kv serve --port "$HTTP_PORT" --data-dir "$DATA" >/dev/null 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
for _ in $(seq 100); do
    redis-cli -p "$RESP_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done

RANDOM_KEYS=()
[ -n "${KEYSPACE:-}" ] && RANDOM_KEYS=(-r "$KEYSPACE")
bench() { redis-benchmark -p "$1" -t set,get -n "$REQUESTS" -P "$PIPELINE" -c "$CLIENTS" -q "${RANDOM_KEYS[@]}" 2>/dev/null \
    | tr '\r' '\n' | grep 'requests per second' | awk '{print $1, $2}'; }
echo "redis-benchmark -t set,get -n $REQUESTS -P $PIPELINE -c $CLIENTS ${RANDOM_KEYS[*]} (requests/s, durability ${DURABILITY:-everysec})"
OURS="$(bench "$RESP_PORT")"
THEIRS="$(bench "$REDIS_PORT")"
printf '%-6s %14s %14s %8s\n' test blueprint-kv redis ratio
join <(echo "$OURS" | sort) <(echo "$THEIRS" | sort) \
    | awk '{ printf "%-6s %14.0f %14.0f %8.2f\n", $1, $2, $3, $2 / $3 }'
