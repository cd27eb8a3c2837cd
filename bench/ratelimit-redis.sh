#!/usr/bin/env bash
# Our rate-limit Lua script (batched EVALSHA) vs a Lyft-style baseline (pipelined INCRBY +
# EXPIRE per descriptor) on the same private Redis, and p99 latency vs a raw PING round
# trip, in alternating rounds; prints every round and the medians.
# Usage: bench/ratelimit-redis.sh [clients] [seconds] [descriptors] [rounds]
# Starts a private redis-server (no persistence) on REDIS_PORT (default 6391). With two or
# more cores (and PIN unset or 1) Redis is pinned with taskset to core 0 and the client to
# core 1, so neither steals the other's core; PIN=0 runs both unpinned.
# REDIS_URL=redis://host:port measures an already running Redis instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# The same target dir as .ci/run, so a warm CI build is reused.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
# Always build: a stale binary would measure old code. A no-op when it is fresh.
cargo build --quiet --release -p blueprint-ratelimit --example redis_bench
BIN="$CARGO_TARGET_DIR/release/examples/redis_bench"

PIN="${PIN:-1}"
[ "$(nproc)" -lt 2 ] && PIN=0
REDIS_PIN=()
CLIENT_PIN=()
if [ "$PIN" = 1 ]; then
    REDIS_PIN=(taskset -c 0)
    CLIENT_PIN=(taskset -c 1)
fi
REDIS_PID=""
if [ -z "${REDIS_URL:-}" ]; then
    PORT="${REDIS_PORT:-6391}"
    if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
        echo "port $PORT is already in use; set REDIS_PORT" >&2
        exit 1
    fi
    "${REDIS_PIN[@]}" redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >/dev/null 2>&1 &
    REDIS_PID=$!
    trap 'kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true' EXIT
    for _ in $(seq 100); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    REDIS_URL="redis://127.0.0.1:$PORT"
    echo "private redis-server $(redis-server --version | awk '{print $3}') on port $PORT, no persistence"
fi
if [ "$PIN" = 1 ]; then
    echo "pinned: redis-server on core 0, client on core 1 (taskset)"
else
    echo "not pinned"
fi
BLUEPRINT_TEST_REDIS_URL="$REDIS_URL" "${CLIENT_PIN[@]}" "$BIN" "${1:-32}" "${2:-3}" "${3:-3}" "${4:-3}"
