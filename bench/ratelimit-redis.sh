#!/usr/bin/env bash
# Our rate-limit Lua script vs a Lyft-style baseline (pipelined INCRBY + EXPIRE per
# descriptor) on the same Redis, and p99 latency vs a raw PING round trip.
# Usage: bench/ratelimit-redis.sh [clients] [seconds] [descriptors]
# Redis: $BLUEPRINT_TEST_REDIS_URL (default redis://127.0.0.1:6379).
set -euo pipefail
cd "$(dirname "$0")/.."
# The same target dir as .ci/run, so a warm CI build is reused.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blueprint/target}"
cargo run --quiet --release -p blueprint-ratelimit --example redis_bench -- "${1:-32}" "${2:-3}" "${3:-3}"
