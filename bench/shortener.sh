#!/usr/bin/env bash
# The URL shortener under load, in one run on loopback: bulk-load N links
# (`blueprint shortener load`), start `blueprint shortener serve` on one core and wrk on
# another (taskset), then measure
#   1. Zipf-distributed redirects (s = 1) over the loaded codes, keep-alive: GET /{code};
#   2. shortening: POST /api/v1/data/shorten of unique URLs (rate limits switched off).
#   3. the same redirects against nginx answering 301 from a `map` of the same codes
#      (Debian nginx, one worker, same core, same wrk), in alternating rounds with ours.
#   4. latency at a set rate rather than at saturation: an open-loop client
#      (crates/shortener/examples/paced_load.rs) sends OPEN_RATE (default 50000)
#      redirects/s over OPEN_CONNECTIONS (default 64) keep-alive connections and times
#      each from when it was due, the same for both servers in alternating rounds; prints
#      each side's p50/p99/p99.9 and the machine's steal time during the run (the share of
#      the run the hypervisor ran something else on our vCPUs: a stolen vCPU stalls server
#      or client for milliseconds, and at 50k/s 1 % of requests is 0.2 s of a 20-s run).
#      A closed-loop client at saturation (step 1) measures the queue it builds, not the
#      server's latency at a given load, and stops sending while it waits.
# nginx matches map strings ignoring case and base62 codes differ by case, so the map and
# the request stream of both servers keep one code per case-insensitive spelling.
# Prints the load rate, the time from start to serving, requests/s with p50/p99 (medians
# of the rounds), the ratio to nginx, the servers' RSS, and checks that every redirect
# answered 301 and every shorten 201.
# Usage: bench/shortener.sh [links] [seconds] [connections]   (defaults: 1000000 10 64)
#        RECORD_CLICKS=false bench/shortener.sh ...   measures redirects without analytics.
#        FAST_REDIRECTS=false bench/shortener.sh ...  every redirect through the full stack.
#        OPEN_RATE=0 skips step 4.
# Needs wrk and nginx (Debian packages `wrk`, `nginx`), python3, and a release build
# (this script builds it). ROUNDS (default 3) sets the alternating rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
LINKS="${1:-1000000}"
SECONDS_PER_RUN="${2:-10}"
CONNECTIONS="${3:-64}"
# Distinct request paths wrk cycles through, drawn from the Zipf distribution.
SAMPLES=200000
BIN="${BIN:-$CARGO_TARGET_DIR/release/blueprint}"
command -v wrk >/dev/null || { echo "error: wrk is missing (apt-get install wrk)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "error: nginx is missing (apt-get install nginx)" >&2; exit 1; }
ROUNDS="${ROUNDS:-3}"
# SKIP_BUILD=1 measures the binary already built (e.g. while the tree does not compile);
# BIN=path measures another build of `blueprint` (an A/B against an older commit).
[ "${SKIP_BUILD:-}" = 1 ] || cargo build --quiet --release -p blueprint
[ "${SKIP_BUILD:-}" = 1 ] || cargo build --quiet --release -p blueprint-shortener --example paced_load
OPEN_LOAD="$CARGO_TARGET_DIR/release/examples/paced_load"

# Both servers at SERVER_PRIORITY (bench/common.sh).
CORES="$(nproc)"
SERVER_CPU=0
CLIENT_CPU=$(( CORES > 1 ? 1 : 0 ))
PORT="$(free_port)"
DATA="$(mktemp -d)"
PID=""
NGINX_PID=""
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
    rm -rf "$DATA"
}
trap cleanup EXIT
export BLUEPRINT_SERVER__DATA_DIR="$DATA" RUST_LOG=warn
# Off for the benchmark: the rate limiter would answer most shortens with 429.
export BLUEPRINT_SHORTENER__SHORTEN_PER_MINUTE_PER_IP=0 BLUEPRINT_SHORTENER__SHORTEN_PER_MINUTE_PER_KEY=0
export BLUEPRINT_SHORTENER__RECORD_CLICKS="${RECORD_CLICKS:-true}"
# FAST_REDIRECTS=false sends every redirect through the full middleware stack.
export BLUEPRINT_SHORTENER__FAST_REDIRECTS="${FAST_REDIRECTS:-true}"

echo "== load: $LINKS links"
START=$(date +%s.%N)
"$BIN" shortener load --links "$LINKS" --batch 20000 --codes-out "$DATA/codes.txt" 2>&1 | tail -1
END=$(date +%s.%N)
printf 'load: %.1f s, %.0f links/s; database %s\n' "$(echo "$END - $START" | bc -l)" \
    "$(echo "$LINKS / ($END - $START)" | bc -l)" "$(du -sh "$DATA" | cut -f1)"

# The nginx map: every stored link, one code per case-insensitive spelling (nginx's map
# matches strings ignoring case). Zipf(s=1) ranks over those codes by inverse CDF,
# P(rank <= k) ~ ln k / ln N, so rank = floor(N^u); both servers get the same requests.
python3 - "$DATA/blueprint.db" "$SAMPLES" "$DATA/paths.txt" "$DATA/map.conf" <<'EOF'
import random, sqlite3, sys
db, samples, out, map_out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
seen, codes = set(), []
with open(map_out, "w") as m:
    for code, url in sqlite3.connect(db).execute("SELECT code, long_url FROM shortener_links"):
        if code.lower() in seen:
            continue
        seen.add(code.lower())
        codes.append(code)
        m.write(f'/{code} "{url}";\n')
n = len(codes)
random.Random(2).shuffle(codes)  # rank -> code, not in insertion order
rng = random.Random(1)
ranks = [min(n, int(n ** rng.random())) for _ in range(samples)]
with open(out, "w") as f:
    for rank in ranks:
        f.write("/" + codes[rank - 1] + "\n")
top = sum(1 for r in ranks if r <= 100) / samples
print(f"zipf: {samples} requests over {len(set(ranks))} distinct codes of {n} case-distinct ones; top 100 codes get {top:.0%}")
EOF

cat > "$DATA/redirects.lua" <<EOF
local paths, i = {}, 0
for line in io.lines("$DATA/paths.txt") do paths[#paths + 1] = line end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
EOF
OPEN_RATE="${OPEN_RATE:-50000}"
OPEN_CONNECTIONS="${OPEN_CONNECTIONS:-64}"
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
$SERVER_PRIORITY taskset -c "$SERVER_CPU" "$BIN" shortener serve --port "$PORT" >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.05
done
SERVING=$(date +%s.%N)
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$DATA/server.log" >&2; exit 1; }
# Resident set, and the part of it that is the process's own memory (RssAnon): the rest
# is the database file's pages, mapped by SQLite's mmap and shared with the page cache.
rss() { awk '/VmRSS/ {t = $2} /RssAnon/ {a = $2} END {printf "%.0f MiB (own %.0f MiB)", t / 1024, a / 1024}' "/proc/$PID/status"; }
printf 'start to serving: %.2f s; RSS %s\n' "$(echo "$SERVING - $STARTED" | bc -l)" "$(rss)"

NGINX_PORT="$(free_port)"
mkdir -p "$DATA/nginx"
cat > "$DATA/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $DATA/nginx/nginx.pid;
error_log $DATA/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    map_hash_max_size $(( LINKS * 2 > 65536 ? LINKS * 2 : 65536 ));
    map_hash_bucket_size 128;
    map \$uri \$target {
        default "";
        include $DATA/map.conf;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        keepalive_requests 100000000;
        location / {
            if (\$target = "") { return 404; }
            return 301 \$target;
        }
    }
}
EOF
NGINX_STARTED=$(date +%s.%N)
$SERVER_PRIORITY taskset -c "$SERVER_CPU" nginx -c "$DATA/nginx/nginx.conf" -e "$DATA/nginx/error.log" &
NGINX_PID=$!
for _ in $(seq 12000); do
    curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" 2>/dev/null && break
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.05
done
curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" || { cat "$DATA/nginx/error.log" >&2; exit 1; }
printf 'nginx: a map of %s codes loaded in %.1f s\n' "$(wc -l < "$DATA/map.conf")" \
    "$(echo "$(date +%s.%N) - $NGINX_STARTED" | bc -l)"

measure() { # port script [connections] -> "rps p50 p99"
    local out
    out="$(taskset -c "$CLIENT_CPU" wrk -t1 -c"${3:-$CONNECTIONS}" -d"${SECONDS_PER_RUN}s" --latency \
        -s "$2" "http://127.0.0.1:$1")"
    # wrk counts statuses >= 400 as "Non-2xx or 3xx responses": there must be none.
    if echo "$out" | grep -q 'Non-2xx'; then echo "error: port $1: error answers" >&2; echo "$out" >&2; exit 1; fi
    echo "$out" | awk '/Requests\/sec/ {rps = $2} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2} END {print rps, p50, p99}'
}
# wrk prints 812.00us, 1.20ms or 1.02s: in ms.
to_ms() { sed -E 's/([0-9.]+)us$/\1 0.001/; s/([0-9.]+)ms$/\1 1/; s/([0-9.]+)s$/\1 1000/' | awk '{printf "%.2f\n", $1 * $2}'; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s, servers on cpu $SERVER_CPU (${SERVER_PRIORITY:-nice 0}), wrk on cpu $CLIENT_CPU, record_clicks=$BLUEPRINT_SHORTENER__RECORD_CLICKS, fast_redirects=$BLUEPRINT_SHORTENER__FAST_REDIRECTS, $ROUNDS alternating rounds"
# Warm both, then measure the steady state. nginx holds its whole map from the start;
# ours fills its cache from SQLite as codes first arrive, and one 10-s run at cold speed
# (~11k/s at 10 M links) covers about half of the sampled paths, so later rounds still
# missed (8 % of round 3's redirects, /metrics). Ours is warmed in 5-s runs until one
# misses in under 1 % of its redirects (at most WARMUP_RUNS_MAX, default 12).
cache_misses() {
    curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "shortener_cache_misses_total" {print $2 + 0; found = 1} END {if (!found) print 0}'
}
for warmup in $(seq "${WARMUP_RUNS_MAX:-12}"); do
    before="$(cache_misses)"
    rps="$(SECONDS_PER_RUN=5 measure "$PORT" "$DATA/redirects.lua" | cut -d' ' -f1)"
    missed=$(( $(cache_misses) - before ))
    echo "warm-up $warmup: $rps req/s, $missed cache misses"
    awk -v m="$missed" -v r="$rps" 'BEGIN {exit !(m * 100 < r * 5)}' && break
done
measure "$NGINX_PORT" "$DATA/redirects.lua" >/dev/null
# One round against each server: label script connections suffix; appends "rps p50 p99"
# to ours<suffix>.txt and nginx<suffix>.txt and prints both.
round_pair() {
    local ours theirs
    ours="$(measure "$PORT" "$2" "$3")"
    theirs="$(measure "$NGINX_PORT" "$2" "$3")"
    echo "$ours" >> "$DATA/ours$4.txt"
    echo "$theirs" >> "$DATA/nginx$4.txt"
    # shellcheck disable=SC2086 # word splitting of "rps p50 p99" is the point
    printf '%s: ours %s req/s (p50 %s, p99 %s); nginx %s req/s (p50 %s, p99 %s)\n' "$1" $ours $theirs
}
: > "$DATA/ours.txt"
: > "$DATA/nginx.txt"
for round in $(seq "$ROUNDS"); do
    round_pair "round $round" "$DATA/redirects.lua" "$CONNECTIONS" ""
done
OURS_RPS="$(cut -d' ' -f1 "$DATA/ours.txt" | median)"
NGINX_RPS="$(cut -d' ' -f1 "$DATA/nginx.txt" | median)"
NGINX_WORKER="$(pgrep -P "$NGINX_PID" | head -1)"
printf '%-10s %10.0f req/s   p99 %s ms (median)   RSS %s\n' redirects "$OURS_RPS" \
    "$(cut -d' ' -f3 "$DATA/ours.txt" | to_ms | median)" "$(rss)"
printf '%-10s %10.0f req/s   p99 %s ms (median)   RSS %s\n' nginx "$NGINX_RPS" \
    "$(cut -d' ' -f3 "$DATA/nginx.txt" | to_ms | median)" \
    "$(awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$NGINX_WORKER/status" 2>/dev/null)"
# CPU time of the process and of SQLite's connection threads (sqlx runs each connection
# on a thread of its own; with the cache warm they mostly write click batches).
cpu_split() {
    local hz total sql
    hz="$(getconf CLK_TCK)"
    total="$(awk '{print $14 + $15}' "/proc/$PID/stat")"
    sql="$(for task in /proc/"$PID"/task/*; do
        # `if`, not `&&`: a last task that is not SQLite's must not fail the loop (set -e).
        if grep -q '^sqlx-sqlite' "$task/comm" 2>/dev/null; then awk '{print $14 + $15}' "$task/stat"; fi
    done | awk '{s += $1} END {print s + 0}')"
    printf 'cpu: %.1f s in all, %.1f s (%.0f%%) on SQLite connection threads\n' \
        "$(echo "$total / $hz" | bc -l)" "$(echo "$sql / $hz" | bc -l)" \
        "$(echo "100 * $sql / ($total + 0.001)" | bc -l)"
}
cpu_split
printf 'redirects ours / nginx: %.2fx (medians of %s rounds)\n' "$(echo "$OURS_RPS / $NGINX_RPS" | bc -l)" "$ROUNDS"
# Steal ticks of every cpu (the 8th field of /proc/stat's `cpu` line) and all ticks.
ticks() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t}' /proc/stat; }
# One open-loop run: port -> "answered p50 p99 p999 steal%" (µs), checked for errors.
open_run() {
    local before after out
    before="$(ticks)"
    out="$(taskset -c "$CLIENT_CPU" "$OPEN_LOAD" "127.0.0.1:$1" "$DATA/paths.txt" "$OPEN_RATE" \
        "$SECONDS_PER_RUN" "$OPEN_CONNECTIONS")"
    after="$(ticks)"
    echo "$out" | grep -q ' errors 0 ' || { echo "error: port $1: $out" >&2; exit 1; }
    # The client's "name value" pairs, then steal and total ticks before and after.
    echo "$out $before $after" | awk '{for (i = 1; i < NF - 4; i += 2) v[$i] = $(i + 1);
        printf "%s %s %s %s %.2f\n", v["answered"], v["p50"], v["p99"], v["p999"],
            100 * ($(NF - 1) - $(NF - 3)) / ($NF - $(NF - 2) + 0.001)}'
}
if [ "$OPEN_RATE" -gt 0 ]; then
    echo "open loop: $OPEN_RATE redirects/s due on $OPEN_CONNECTIONS connections, each timed from when it was due, $ROUNDS alternating rounds"
    : > "$DATA/ours-open.txt"
    : > "$DATA/nginx-open.txt"
    for round in $(seq "$ROUNDS"); do
        ours="$(open_run "$PORT")"
        theirs="$(open_run "$NGINX_PORT")"
        echo "$ours" >> "$DATA/ours-open.txt"
        echo "$theirs" >> "$DATA/nginx-open.txt"
        # shellcheck disable=SC2086 # word splitting of the fields is the point
        printf 'open round %s: ours %s/s (p50 %s us, p99 %s us, p99.9 %s us; steal %s%%); nginx %s/s (p50 %s us, p99 %s us, p99.9 %s us; steal %s%%)\n' \
            "$round" $ours $theirs
    done
    for side in ours nginx; do
        printf '%-10s %10.0f req/s   p99 %.2f ms   p99.9 %.2f ms (medians of %s open-loop rounds)\n' "$side-open" \
            "$(cut -d' ' -f1 "$DATA/$side-open.txt" | median)" \
            "$(cut -d' ' -f3 "$DATA/$side-open.txt" | median | awk '{print $1 / 1000}')" \
            "$(cut -d' ' -f4 "$DATA/$side-open.txt" | median | awk '{print $1 / 1000}')" "$ROUNDS"
    done
fi
read -r SHORTEN_RPS SHORTEN_P50 SHORTEN_P99 <<< "$(measure "$PORT" "$DATA/shorten.lua")"
printf '%-10s %10.0f req/s   p50 %8s   p99 %8s   RSS %s\n' shorten "$SHORTEN_RPS" "$SHORTEN_P50" "$SHORTEN_P99" "$(rss)"
# wrk does not tell 301 from 200: spot-check that sampled codes answer 301.
BAD=0
while read -r path; do
    status="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$path")"
    [ "$status" = 301 ] || BAD=$((BAD + 1))
done < <(head -n 200 "$DATA/paths.txt")
[ "$BAD" = 0 ] || { echo "error: $BAD of 200 sampled redirects did not answer 301" >&2; exit 1; }
echo "checked: 200 sampled codes answer 301"
