#!/usr/bin/env bash
# Search autocomplete side by side with RediSearch FT.SUGGET on the same dictionary.
#
# One generated Zipf query log is aggregated into our Trie DB snapshot; every query of it
# (display form -> aggregated frequency) is loaded into RediSearch with FT.SUGADD. Both
# servers run pinned to cpu 0 (Redis is single-threaded; ours gets the same one core),
# the load client on cpu 1. crates/autocomplete/examples/redisearch_bench.rs then reports,
# in one run: memory per suggestion, top-5 ranking agreement, our in-process lookup
# latency, and requests/s + latency of the same closed-loop client against FT.SUGGET
# (RESP) and GET /api/v1/autocomplete (HTTP), alternating rounds, with the ratio. A wrk
# run against ours follows as a cross-check that the client was not the bottleneck.
#
# Usage: bench/autocomplete-redisearch.sh [lines] [distinct] [seconds] [connections] [rounds]
#        (defaults: 1000000 100000 10 32 3)
# Needs redis-server with /usr/lib/redis/modules/redisearch.so (Debian redis-redisearch)
# and wrk. Uses a private Redis on port 6390 (never 6379: the tests' Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
LINES="${1:-1000000}"
DISTINCT="${2:-100000}"
SECONDS_PER_ROUND="${3:-10}"
CONNECTIONS="${4:-32}"
ROUNDS="${5:-3}"
REDIS_PORT=6390
MODULE=/usr/lib/redis/modules/redisearch.so
BIN="$CARGO_TARGET_DIR/release/blueprint"
BENCH="$CARGO_TARGET_DIR/release/examples/redisearch_bench"
[ -f "$MODULE" ] || { echo "error: $MODULE is missing (apt-get install redis-redisearch)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "error: wrk is missing (apt-get install wrk)" >&2; exit 1; }
if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "error: something already listens on port $REDIS_PORT" >&2; exit 1
fi
cargo build --quiet --release -p blueprint
cargo build --quiet --release -p blueprint-autocomplete --example redisearch_bench

CLIENT_CPU=$(( $(nproc) > 1 ? 1 : 0 ))
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
DATA="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$DATA"
}
trap cleanup EXIT

"$BIN" autocomplete generate --lines "$LINES" --distinct "$DISTINCT" --out "$DATA/q.log" >/dev/null
"$BIN" autocomplete build --log "$DATA/q.log" --snapshot "$DATA/t.snapshot"
cat > "$DATA/blueprint.toml" <<TOML
[autocomplete]
log_path = "$DATA/q.log"
snapshot_path = "$DATA/t.snapshot"
rebuild_interval_s = 86400
TOML

taskset -c 0 redis-server --port "$REDIS_PORT" --loadmodule "$MODULE" --save '' --appendonly no \
    --dir "$DATA" >"$DATA/redis.out" 2>&1 &
PIDS+=($!)
RUST_LOG=warn taskset -c 0 "$BIN" --config "$DATA/blueprint.toml" autocomplete serve \
    --port "$PORT" --data-dir "$DATA/data" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do
    if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 \
        && curl -sf "http://127.0.0.1:$PORT/api/v1/autocomplete?q=t" >/dev/null 2>&1; then
        break
    fi
    sleep 0.1
done
echo "redis: $(redis-server --version | cut -d' ' -f3), RediSearch module $(redis-cli -p "$REDIS_PORT" module list | sed -n 4p); servers on cpu 0, client on cpu $CLIENT_CPU"

taskset -c "$CLIENT_CPU" "$BENCH" --snapshot "$DATA/t.snapshot" --log "$DATA/q.log" \
    --redis "127.0.0.1:$REDIS_PORT" --http "127.0.0.1:$PORT" \
    --seconds "$SECONDS_PER_ROUND" --connections "$CONNECTIONS" --rounds "$ROUNDS"

# Cross-check with wrk (same prefix rule) against ours.
LUA="$DATA/prefixes.lua"
python3 - "$DATA/q.log" "$LUA" <<'PY'
import random, sys, urllib.parse
random.seed(13)
queries = [line.split("\t", 1)[1].rstrip("\n") for _, line in zip(range(20000), open(sys.argv[1], encoding="utf-8"))]
prefixes = sorted({q[: random.randint(1, 4)].strip() or q[:1] for q in queries})
with open(sys.argv[2], "w") as out:
    out.write("prefixes = {\n")
    for p in prefixes:
        out.write('  "%s",\n' % urllib.parse.quote(p))
    out.write("}\nrequest = function()\n  local p = prefixes[math.random(#prefixes)]\n")
    out.write('  return wrk.format("GET", "/api/v1/autocomplete?k=5&q=" .. p)\nend\n')
PY
OUT="$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_ROUND}s" --latency -s "$LUA" "http://127.0.0.1:$PORT")"
if echo "$OUT" | grep -q 'Non-2xx'; then echo "error: non-2xx responses" >&2; echo "$OUT" >&2; exit 1; fi
RATE="$(echo "$OUT" | awk '/Requests\/sec/ {print $2}')"
P99="$(echo "$OUT" | awk '$1 == "99%" {print $2}')"
echo "wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_ROUND}s cross-check, ours: $RATE requests/s, p99 $P99"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
