#!/usr/bin/env bash
# The URL shortener under load, in one run on loopback: bulk-load N links
# (`blueprint shortener load`), start `blueprint shortener serve` on one core and wrk on
# another (taskset), then measure
#   1. Zipf-distributed redirects (s = 1) over the loaded codes, keep-alive: GET /{code};
#   2. shortening: POST /api/v1/data/shorten of unique URLs (rate limits switched off).
# Prints the load rate, the time from start to serving, requests/s with p50/p99, the
# server's RSS, and checks that every redirect answered 301 and every shorten 201.
# Usage: bench/shortener.sh [links] [seconds] [connections]   (defaults: 1000000 10 64)
#        RECORD_CLICKS=false bench/shortener.sh ...   measures redirects without analytics.
# Needs wrk (Debian package `wrk`), python3, and a release build (this script builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
LINKS="${1:-1000000}"
SECONDS_PER_RUN="${2:-10}"
CONNECTIONS="${3:-64}"
# Distinct request paths wrk cycles through, drawn from the Zipf distribution.
SAMPLES=200000
BIN="$CARGO_TARGET_DIR/release/blueprint"
command -v wrk >/dev/null || { echo "error: wrk is missing (apt-get install wrk)" >&2; exit 1; }
# SKIP_BUILD=1 measures the binary already built (e.g. while the tree does not compile).
[ "${SKIP_BUILD:-}" = 1 ] || cargo build --quiet --release -p blueprint

CORES="$(nproc)"
SERVER_CPU=0
CLIENT_CPU=$(( CORES > 1 ? 1 : 0 ))
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
DATA="$(mktemp -d)"
PID=""
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$DATA"
}
trap cleanup EXIT
export BLUEPRINT_SERVER__DATA_DIR="$DATA" RUST_LOG=warn
# Off for the benchmark: the rate limiter would answer most shortens with 429.
export BLUEPRINT_SHORTENER__SHORTEN_PER_MINUTE_PER_IP=0 BLUEPRINT_SHORTENER__SHORTEN_PER_MINUTE_PER_KEY=0
export BLUEPRINT_SHORTENER__RECORD_CLICKS="${RECORD_CLICKS:-true}"

echo "== load: $LINKS links"
START=$(date +%s.%N)
"$BIN" shortener load --links "$LINKS" --batch 20000 --codes-out "$DATA/codes.txt" 2>&1 | tail -1
END=$(date +%s.%N)
printf 'load: %.1f s, %.0f links/s; database %s\n' "$(echo "$END - $START" | bc -l)" \
    "$(echo "$LINKS / ($END - $START)" | bc -l)" "$(du -sh "$DATA" | cut -f1)"

# Zipf(s=1) ranks by inverse CDF, P(rank <= k) ~ ln k / ln N, so rank = floor(N^u); the
# sampled ranks are read from the codes file in one pass.
python3 - "$DATA/codes.txt" "$LINKS" "$SAMPLES" "$DATA/paths.txt" <<'EOF'
import random, sys
codes_path, n, samples, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(1)
ranks = [min(n, int(n ** rng.random())) for _ in range(samples)]
wanted = sorted(set(ranks))
code_of, i = {}, 0
with open(codes_path) as f:
    for line_no, line in enumerate(f, 1):
        if i < len(wanted) and line_no == wanted[i]:
            code_of[line_no] = line.strip()
            i += 1
            if i == len(wanted):
                break
with open(out, "w") as f:
    for rank in ranks:
        f.write("/" + code_of[rank] + "\n")
top = sum(1 for r in ranks if r <= 100) / samples
print(f"zipf: {samples} requests over {len(wanted)} distinct codes; top 100 codes get {top:.0%}")
EOF

cat > "$DATA/redirects.lua" <<EOF
local paths, i = {}, 0
for line in io.lines("$DATA/paths.txt") do paths[#paths + 1] = line end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
EOF
cat > "$DATA/shorten.lua" <<'EOF'
local n = 0
local id = tostring(math.random(1, 1e9))
request = function()
  n = n + 1
  local body = '{"longUrl":"https://bench.example/' .. id .. '/' .. n .. '"}'
  return wrk.format("POST", "/api/v1/data/shorten", {["content-type"] = "application/json"}, body)
end
EOF

STARTED=$(date +%s.%N)
taskset -c "$SERVER_CPU" "$BIN" shortener serve --port "$PORT" >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.05
done
SERVING=$(date +%s.%N)
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$DATA/server.log" >&2; exit 1; }
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$PID/status"; }
printf 'start to serving: %.2f s; RSS %s\n' "$(echo "$SERVING - $STARTED" | bc -l)" "$(rss)"

run() { # title script
    local title=$1 script=$2 out
    out="$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency \
        -s "$script" "http://127.0.0.1:$PORT")"
    # wrk counts statuses >= 400 as "Non-2xx or 3xx responses": there must be none.
    if echo "$out" | grep -q 'Non-2xx'; then echo "error: $title: error answers" >&2; echo "$out" >&2; exit 1; fi
    local rps p50 p99
    rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
    p50="$(echo "$out" | awk '$1 == "50%" {print $2}')"
    p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
    printf '%-10s %12.0f req/s   p50 %8s   p99 %8s   RSS %s\n' "$title" "$rps" "$p50" "$p99" "$(rss)"
}
echo "wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s, server on cpu $SERVER_CPU, wrk on cpu $CLIENT_CPU, record_clicks=$BLUEPRINT_SHORTENER__RECORD_CLICKS"
# Warm the cache (about one pass over the sampled paths), then measure the steady state.
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -s "$DATA/redirects.lua" "http://127.0.0.1:$PORT" >/dev/null
run redirects "$DATA/redirects.lua"
run shorten "$DATA/shorten.lua"
# wrk does not tell 301 from 200: spot-check that sampled codes answer 301.
BAD=0
while read -r path; do
    status="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$path")"
    [ "$status" = 301 ] || BAD=$((BAD + 1))
done < <(head -n 200 "$DATA/paths.txt")
[ "$BAD" = 0 ] || { echo "error: $BAD of 200 sampled redirects did not answer 301" >&2; exit 1; }
echo "checked: 200 sampled codes answer 301"
