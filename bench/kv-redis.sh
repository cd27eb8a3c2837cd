#!/usr/bin/env bash
# Our RESP server (`blueprint kv serve`, LSM engine) vs a private redis-server with the
# same durability (`--appendonly yes --appendfsync <DURABILITY>`), side by side with
# redis-benchmark in alternating rounds, printing each round's ratios and the medians.
# Usage: bench/kv-redis.sh [requests] [pipeline] [clients]
# KEYSPACE=1000000 spreads keys with `-r` (by default redis-benchmark hits one key, which
# measures hot-key overwrites); VALUE_BYTES=100 sets `-d`. DURABILITY=always|everysec|no sets both (default everysec).
# ROUNDS (default 5) alternating rounds. WORKERS sets our node's `server.worker_threads`
# (default 0: one per core; 1 serves every connection from one thread, as Redis's one
# event loop does). REDIS_PORT=6379 measures an already running
# Redis instead (its own persistence settings). Needs redis-server, redis-benchmark and a
# release build (this script builds it).
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
REQUESTS="${1:-200000}"
PIPELINE="${2:-16}"
CLIENTS="${3:-32}"
DURABILITY="${DURABILITY:-everysec}"
WORKERS="${WORKERS:-0}"
ROUNDS="${ROUNDS:-5}"
BIN="$CARGO_TARGET_DIR/release/blueprint"
# Always build: a stale binary would measure old code. A no-op when it is fresh.
cargo build --quiet --release -p blueprint

HTTP_PORT="$(free_port)"
RESP_PORT="$(free_port)"
DATA="$(mktemp -d)"
BLUEPRINT_KV__RESP_PORT="$RESP_PORT" BLUEPRINT_KV__DURABILITY="$DURABILITY" \
    BLUEPRINT_SERVER__WORKER_THREADS="$WORKERS" RUST_LOG=warn \
    "$BIN" kv serve --port "$HTTP_PORT" --data-dir "$DATA/ours" >/dev/null 2>&1 &
PID=$!
REDIS_PID=""
if [ -z "${REDIS_PORT:-}" ]; then
    REDIS_PORT="$(free_port)"
    mkdir -p "$DATA/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA/redis" --save '' \
        --appendonly yes --appendfsync "$DURABILITY" --daemonize no >/dev/null 2>&1 &
    REDIS_PID=$!
fi
cleanup() {
    kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true
    if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
    rm -rf "$DATA"
}
trap cleanup EXIT
for port in "$RESP_PORT" "$REDIS_PORT"; do
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
done

RANDOM_KEYS=()
[ -n "${KEYSPACE:-}" ] && RANDOM_KEYS=(-r "$KEYSPACE")
bench() { redis-benchmark -p "$1" -t set,get -n "$REQUESTS" -P "$PIPELINE" -c "$CLIENTS" -d "${VALUE_BYTES:-3}" -q "${RANDOM_KEYS[@]}" 2>/dev/null \
    | tr '\r' '\n' | grep 'requests per second' | awk '{print $1, $2}'; }
echo "redis-benchmark -t set,get -n $REQUESTS -P $PIPELINE -c $CLIENTS -d ${VALUE_BYTES:-3} ${RANDOM_KEYS[*]} (requests/s; ours durability $DURABILITY, worker_threads $WORKERS; redis $([ -n "$REDIS_PID" ] && echo "appendfsync $DURABILITY" || echo "on port $REDIS_PORT as configured"); $ROUNDS alternating rounds)"
: > "$DATA/rounds.txt"
for round in $(seq "$ROUNDS"); do
    OURS="$(bench "$RESP_PORT")"
    THEIRS="$(bench "$REDIS_PORT")"
    join <(echo "$OURS" | sort) <(echo "$THEIRS" | sort) \
        | awk -v r="$round" '{ printf "round %s %-5s %12.0f %12.0f %6.2f\n", r, $1, $2, $3, $2 / $3 }' \
        | tee -a "$DATA/rounds.txt"
done
printf '%-6s %14s %14s %8s\n' test blueprint-kv redis ratio
for test in GET: SET:; do
    awk -v t="$test" '$3 == t' "$DATA/rounds.txt" | sort -k6 -g \
        | awk '{ours[NR] = $4; redis[NR] = $5; ratio[NR] = $6} END {m = int((NR + 1) / 2); printf "%-6s %14.0f %14.0f %8.2f  (median ratio of %d rounds, %.2f-%.2f)\n", $3, ours[m], redis[m], ratio[m], NR, ratio[1], ratio[NR]}'
done
