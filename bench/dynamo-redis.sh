#!/usr/bin/env bash
# The Dynamo cluster (issue 7) against Redis, in one run:
#  1. three `dynamo-node` processes on loopback (N=3, W=2, R=2, sloppy quorum, LSM with
#     durability every_sec), redis-benchmark clients spread over the three nodes (one
#     redis-benchmark per node, each with a third of the clients, so every node
#     coordinates), vs a private `redis-server --appendonly yes --appendfsync everysec`
#     driven by the same three redis-benchmark processes; alternating rounds, medians of
#     our/Redis throughput ratios, and each side's p99 (the worst of its three clients);
#  2. a partition {n1, n2} | {n3} (in-process, see src/bin/dynamo-node.rs
#     `blocked_file`) under writes, healed: the time until every pair of replicas has
#     equal Merkle roots;
#  3. latency (p50/p99) while n3 is killed with SIGKILL mid-run (clients on n1, n2), and
#     after it restarts, while the hints kept for it are replayed (clients on all three).
# Usage: bench/dynamo-redis.sh [requests per round] [pipeline] [clients] [rounds]
# (defaults 300000 8 24 3). The load point: -P 8 with 24 clients keeps 192 requests in
# flight, and by Little's law the mean latency is in-flight / throughput, so the p99 a run
# can show is set by it as much as by the node (768 in flight, -P 16 with 48 clients, is
# 5.5 ms mean at 140 k SETs/s before any spread). Both sides run with the same parameters;
# crates/dynamo's docs give figures at both points.
# KEYSPACE (default 1000000) spreads keys with `-r`; ANTI_ENTROPY_MS (default 30000) is
# the nodes' anti-entropy interval. DYNAMO_NODE_BIN, when set, is the node binary to run
# instead of building one (for A/B runs of two builds: copy the old binary aside).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
REQUESTS="${1:-300000}"
PIPELINE="${2:-8}"
CLIENTS="${3:-24}"
ROUNDS="${4:-3}"
KEYSPACE="${KEYSPACE:-1000000}"
ANTI_ENTROPY_MS="${ANTI_ENTROPY_MS:-30000}"
NODES=3
BIN="${DYNAMO_NODE_BIN:-}"
if [ -z "$BIN" ]; then
    cargo build --quiet --release -p blueprint-dynamo --bin dynamo-node
    BIN="$CARGO_TARGET_DIR/release/dynamo-node"
fi
echo "node binary: $BIN ($(sha256sum "$BIN" | cut -c1-12))"
WORK="$(mktemp -d)"
declare -a PID RPC RESP HTTP
REDIS_PID=""
cleanup() {
    for i in "${!PID[@]}"; do kill -CONT "${PID[$i]}" 2>/dev/null || true; kill "${PID[$i]}" 2>/dev/null || true; done
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

for i in $(seq 1 $NODES); do RPC[$i]="127.0.0.1:$(free_port)"; RESP[$i]="$(free_port)"; HTTP[$i]="$(free_port)"; done

settings() { # node index -> settings JSON
    local i=$1 seeds="" j
    for j in $(seq 1 $NODES); do [ "$j" != "$i" ] && seeds="$seeds\"${RPC[$j]}\","; done
    cat <<EOF
{"durability": "every_sec", "blocked_file": "$WORK/n$i.blocked",
 "cluster": {"node_id": "n$i", "rpc_listen": "${RPC[$i]}", "resp_listen": "127.0.0.1:${RESP[$i]}",
  "http_listen": "127.0.0.1:${HTTP[$i]}", "seeds": [${seeds%,}], "data_dir": "$WORK/n$i",
  "n": 3, "r": 2, "w": 2, "anti_entropy_interval_ms": $ANTI_ENTROPY_MS}}
EOF
}

start_node() { # index: starts (or restarts on its data) node i and waits until it is ready
    local i=$1
    settings "$i" >"$WORK/n$i.json"
    : >"$WORK/n$i.blocked"
    RUST_LOG=warn $SERVER_PRIORITY "$BIN" "$WORK/n$i.json" >"$WORK/n$i.out" 2>"$WORK/n$i.err" &
    PID[$i]=$!
    for _ in $(seq 200); do grep -q '^ready' "$WORK/n$i.out" && return; sleep 0.05; done
    echo "n$i did not start:" >&2; cat "$WORK/n$i.err" >&2; exit 1
}

status() { curl -s --max-time 10 "http://127.0.0.1:${HTTP[$1]}/api/v1/kv-cluster/$2"; }
alive_everywhere() { # true when every running node sees all three alive
    local i
    for i in $(seq 1 $NODES); do
        status "$i" status | python3 -c 'import json,sys; m=json.load(sys.stdin)["members"]; sys.exit(0 if len(m)==3 and all(x["state"]=="alive" for x in m) else 1)' || return 1
    done
}
wait_alive() { for _ in $(seq 200); do alive_everywhere 2>/dev/null && return; sleep 0.1; done; echo "cluster never formed" >&2; exit 1; }
converged() { # every pair's Merkle roots for each other equal
    python3 - "$@" <<'EOF'
import json, sys, urllib.request
roots = {}
for port in sys.argv[1:]:
    body = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/kv-cluster/merkle", timeout=30))
    roots[body["node"]] = body["roots"]
ok = all(roots[a].get(b) == roots[b].get(a) for a in roots for b in roots if a < b)
sys.exit(0 if ok else 1)
EOF
}
hints_pending() { # total hints held by the given nodes
    local total=0 i count
    for i in "$@"; do
        count="$(status "$i" status | python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["hints_pending"].values()))' 2>/dev/null || echo 0)"
        total=$((total + count))
    done
    echo "$total"
}

# bench_ports <tests> <requests per client process> <ports...>: one redis-benchmark per
# port, concurrently, each with CLIENTS/#ports clients; prints per test
# "test rps_sum p50_max p99_max" (latencies in ms).
bench_ports() {
    local tests=$1 requests=$2; shift 2
    local per=$((CLIENTS / $#)) k=0 port
    for port in "$@"; do
        redis-benchmark -p "$port" -t "$tests" -n "$requests" -P "$PIPELINE" -c "$per" -r "$KEYSPACE" --csv \
            >"$WORK/bench.$k.csv" 2>/dev/null &
        k=$((k + 1))
    done
    wait_benchmarks
    python3 - "$WORK"/bench.*.csv <<'EOF'
import csv, sys
agg = {}
for path in sys.argv[1:]:
    for row in csv.DictReader(open(path)):
        name = row["test"].split()[0]
        a = agg.setdefault(name, [0.0, 0.0, 0.0])
        a[0] += float(row["rps"]); a[1] = max(a[1], float(row["p50_latency_ms"])); a[2] = max(a[2], float(row["p99_latency_ms"]))
for name, (rps, p50, p99) in sorted(agg.items()):
    print(name, round(rps), p50, p99)
EOF
    rm -f "$WORK"/bench.*.csv
}
wait_benchmarks() { local job; for job in $(jobs -p); do [[ " ${PID[*]} $REDIS_PID " == *" $job "* ]] || wait "$job" || true; done; }

for i in $(seq 1 $NODES); do start_node "$i"; done
wait_alive
REDIS_PORT="$(free_port)"
mkdir -p "$WORK/redis"
$SERVER_PRIORITY redis-server --port "$REDIS_PORT" --dir "$WORK/redis" --appendonly yes --appendfsync everysec \
    --save "" --daemonize no --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
echo "dynamo-node x3 (N=3 W=2 R=2, LSM every_sec, anti-entropy every ${ANTI_ENTROPY_MS} ms) vs redis-server appendfsync everysec"
echo "redis-benchmark -t set,get -P $PIPELINE -r $KEYSPACE, $CLIENTS clients as 3 processes of $((CLIENTS / 3)), $REQUESTS requests per round"

# ---- 2 (first, while the stores are small): partition, heal, convergence ----
echo
echo "partition {n1,n2} | {n3} for 5 s under SETs at n1 and n2:"
echo "${RPC[3]}" >"$WORK/n1.blocked"; echo "${RPC[3]}" >"$WORK/n2.blocked"
printf '%s\n%s\n' "${RPC[1]}" "${RPC[2]}" >"$WORK/n3.blocked"
kill -USR1 "${PID[1]}" "${PID[2]}" "${PID[3]}"
redis-benchmark -p "${RESP[1]}" -t set -n 20000 -P 1 -c 4 -r 20000 -q >/dev/null 2>&1 &
redis-benchmark -p "${RESP[2]}" -t set -n 20000 -P 1 -c 4 -r 20000 -q >/dev/null 2>&1 &
sleep 5
wait_benchmarks
echo "  hints kept for n3 by n1+n2: $(hints_pending 1 2)"
: >"$WORK/n1.blocked"; : >"$WORK/n2.blocked"; : >"$WORK/n3.blocked"
kill -USR1 "${PID[1]}" "${PID[2]}" "${PID[3]}"
HEALED=$(date +%s%N)
CONVERGED=""
for _ in $(seq 1200); do
    if converged "${HTTP[1]}" "${HTTP[2]}" "${HTTP[3]}" 2>/dev/null; then CONVERGED=$(date +%s%N); break; fi
    sleep 0.1
done
if [ -n "$CONVERGED" ]; then
    echo "  replicas converged (all Merkle roots equal) $(( (CONVERGED - HEALED) / 1000000 )) ms after the heal"
else
    echo "  replicas NOT converged within 120 s of the heal"
fi

# ---- 1: throughput, alternating rounds ----
echo
printf '%-6s %-5s %12s %8s %8s %12s %8s %8s %7s\n' round test dynamo p50ms p99ms redis p50ms p99ms ratio
PER=$((REQUESTS / 3))
for round in $(seq 1 "$ROUNDS"); do
    OURS="$(bench_ports set,get "$PER" "${RESP[1]}" "${RESP[2]}" "${RESP[3]}")"
    THEIRS="$(bench_ports set,get "$PER" "$REDIS_PORT" "$REDIS_PORT" "$REDIS_PORT")"
    join <(echo "$OURS") <(echo "$THEIRS") | while read -r test r1 a1 b1 r2 a2 b2; do
        printf '%-6s %-5s %12s %8s %8s %12s %8s %8s %7.2f\n' "$round" "$test" "$r1" "$a1" "$b1" "$r2" "$a2" "$b2" \
            "$(python3 -c "print($r1 / $r2)")"
        echo "$test $(python3 -c "print($r1 / $r2)") $b1 $b2" >>"$WORK/ratios"
    done
done
python3 - "$WORK/ratios" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    test, ratio, ours_p99, redis_p99 = line.split()
    rows.setdefault(test, []).append((float(ratio), float(ours_p99), float(redis_p99)))
for test, values in sorted(rows.items()):
    ratios = [v[0] for v in values]
    print(f"median {test}: {statistics.median(ratios):.2f}x Redis (rounds {min(ratios):.2f}-{max(ratios):.2f}); "
          f"p99 median ours {statistics.median(v[1] for v in values)} ms, Redis {statistics.median(v[2] for v in values)} ms")
EOF

# ---- 3: a node killed mid-run, then hinted-handoff replay ----
echo
echo "kill -9 n3 one second into a run with clients on n1 and n2 ($((CLIENTS / 2)) each):"
bench_ports set,get "$PER" "${RESP[1]}" "${RESP[2]}" >"$WORK/kill.out" &
KILL_BENCH=$!
sleep 1
kill -9 "${PID[3]}"
wait "$KILL_BENCH" || true
awk '{printf "  %-4s %10s requests/s  p50 %s ms  p99 %s ms\n", $1, $2, $3, $4}' "$WORK/kill.out"
echo "  hints kept for n3 by n1+n2: $(hints_pending 1 2)"
start_node 3
wait_alive
echo "n3 restarted; a run with clients on all three while hints replay:"
bench_ports set,get "$PER" "${RESP[1]}" "${RESP[2]}" "${RESP[3]}" | \
    awk '{printf "  %-4s %10s requests/s  p50 %s ms  p99 %s ms\n", $1, $2, $3, $4}'
echo "  hints still pending after that run: $(hints_pending 1 2)"
