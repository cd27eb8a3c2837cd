#!/usr/bin/env bash
# The autocomplete query service under load: `GET /api/v1/autocomplete?q=<prefix>&k=5`
# with wrk (keep-alive), prefixes of 1-4 characters drawn from the sample log's queries,
# server and load generator pinned to different cores with taskset (the issue's "one
# core"). Prints requests/s and latency percentiles.
# Usage: bench/autocomplete-http.sh [seconds] [connections]   (defaults: 10 32)
# Needs wrk (Debian package `wrk`) and a release build (this script builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-32}"
BIN="$CARGO_TARGET_DIR/release/blueprint"
command -v wrk >/dev/null || { echo "error: wrk is missing (apt-get install wrk)" >&2; exit 1; }
cargo build --quiet --release -p blueprint

CLIENT_CPU=$(( $(nproc) > 1 ? 1 : 0 ))
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
DATA="$(mktemp -d)"
# The first run seeds a sample log (200k lines, 20k queries) and builds the trie from it.
RUST_LOG=warn taskset -c 0 "$BIN" autocomplete serve --port "$PORT" --data-dir "$DATA" >/dev/null 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$PORT/api/v1/autocomplete?q=t" >/dev/null 2>&1 && break
    sleep 0.1
done
# Prefixes: the first 1-4 characters of the log's queries, URL-encoded, in a wrk script.
LUA="$DATA/prefixes.lua"
python3 - "$DATA/autocomplete/queries.log" "$LUA" <<'PY'
import random, sys, urllib.parse
random.seed(13)
queries = [line.split("\t", 1)[1].rstrip("\n") for _, line in zip(range(20000), open(sys.argv[1], encoding="utf-8"))]
prefixes = sorted({q[: random.randint(1, 4)].strip() or q[:1] for q in queries})
with open(sys.argv[2], "w") as out:
    out.write("prefixes = {\n")
    for p in prefixes:
        out.write('  "%s",\n' % urllib.parse.quote(p))
    out.write("}\n")
    out.write("request = function()\n  local p = prefixes[math.random(#prefixes)]\n")
    out.write('  return wrk.format("GET", "/api/v1/autocomplete?k=5&q=" .. p)\nend\n')
print(len(prefixes), "prefixes", file=sys.stderr)
PY
OUT="$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$LUA" "http://127.0.0.1:$PORT")"
if echo "$OUT" | grep -q 'Non-2xx'; then echo "error: non-2xx responses" >&2; echo "$OUT" >&2; exit 1; fi
echo "wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s, server on cpu 0, wrk on cpu $CLIENT_CPU"
echo "$OUT" | awk '/Requests\/sec/ {print "requests/s", $2} $1 == "50%" || $1 == "90%" || $1 == "99%" {print "p" substr($1, 1, length($1)-1), $2}'
