#!/usr/bin/env bash
# The ID generator's HTTP batch endpoint under load: `GET /api/v1/ids?count=N&kind=K` with
# wrk (keep-alive), server and load generator pinned to different cores with taskset.
# Prints requests/s, IDs/s (requests/s x N) and latency percentiles per batch size.
# Usage: bench/ids-http.sh [seconds] [connections] [kind]   (defaults: 5 32 snowflake)
# Needs wrk (Debian package `wrk`) and a release build (this script builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
SECONDS_PER_RUN="${1:-5}"
CONNECTIONS="${2:-32}"
KIND="${3:-snowflake}"
BIN="$CARGO_TARGET_DIR/release/blueprint"
command -v wrk >/dev/null || { echo "error: wrk is missing (apt-get install wrk)" >&2; exit 1; }
# Always build: a stale binary would measure old code. A no-op when it is fresh.
cargo build --quiet --release -p blueprint

CORES="$(nproc)"
SERVER_CPU=0
CLIENT_CPU=$(( CORES > 1 ? 1 : 0 ))
PORT="$(free_port)"
DATA="$(mktemp -d)"
RUST_LOG=warn taskset -c "$SERVER_CPU" "$BIN" ids serve --port "$PORT" --data-dir "$DATA" >/dev/null 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/api/v1/ids?count=1&kind=$KIND" >/dev/null \
    || { echo "error: the server did not answer on $PORT" >&2; exit 1; }

echo "wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s, kind=$KIND, server on cpu $SERVER_CPU, wrk on cpu $CLIENT_CPU"
printf '%7s %12s %14s %10s %10s\n' count 'requests/s' 'IDs/s' p50 p99
for COUNT in 1 100 1000 10000; do
    OUT="$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency \
        "http://127.0.0.1:$PORT/api/v1/ids?count=$COUNT&kind=$KIND")"
    if echo "$OUT" | grep -q 'Non-2xx'; then echo "error: non-2xx responses" >&2; echo "$OUT" >&2; exit 1; fi
    RPS="$(echo "$OUT" | awk '/Requests\/sec/ {print $2}')"
    P50="$(echo "$OUT" | awk '$1 == "50%" {print $2}')"
    P99="$(echo "$OUT" | awk '$1 == "99%" {print $2}')"
    printf '%7s %12.0f %14.0f %10s %10s\n' "$COUNT" "$RPS" "$(echo "$RPS * $COUNT" | bc -l)" "$P50" "$P99"
done
