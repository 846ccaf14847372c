#!/usr/bin/env bash
# Tessera benchmarks: builds release binaries, starts a private redis-server and `tessera
# serve` (default configuration: EdDSA, SQLite, allowlist) plus the axum hello baseline,
# creates users and sessions through the API, and measures every scenario side by side in
# one run. See bench/README.md; results go to bench/out/<timestamp>/.
#
# Knobs (environment): ROUNDS (5), DURATION (10 s), WARMUP (2 s), CONNS (64),
# SPREAD (800 seeded sessions per refresh user), LOGIN_ROUNDS (3), PROPAGATION_SAMPLES (300), MEM_SESSIONS (100000), CRITERION_RUNS (3),
# ONLY (space-separated subset of: load logins roundtrips propagation memory criterion),
# BIN (prebuilt binaries to measure instead of building).
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
LOGIN_ROUNDS=${LOGIN_ROUNDS:-3}
PROPAGATION_SAMPLES=${PROPAGATION_SAMPLES:-300}
MEM_SESSIONS=${MEM_SESSIONS:-100000}
ONLY=${ONLY:-load logins roundtrips propagation memory criterion}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out/$(date +%Y%m%d-%H%M%S)}
OUT=$(realpath -m "$OUT") # redis-server resolves its log file after changing to --dir
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
want() { [[ " $ONLY " == *" $1 "* ]]; }

cd "$ROOT"
# BIN=<dir holding tessera and tessera-bench> measures prebuilt binaries (an A/B of two
# builds); unset, the release binaries are built here first.
if [[ -z "${BIN:-}" ]]; then
  cargo build --release -p tessera-server -p tessera-bench
  BIN=$ROOT/target/release
fi
BENCH=$BIN/tessera-bench

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

start_redis() { # port dir
  mkdir -p "$2"
  redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --dir "$2" --logfile "$2/redis.log" &
  PIDS+=($!)
  for _ in $(seq 100); do
    redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  echo "redis-server on $1 did not start" >&2
  return 1
}

wait_http() { # url
  for _ in $(seq 200); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "$1 did not answer" >&2
  return 1
}

{
  echo "date: $(date -Is)"
  echo "git: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "mem: $(free -g | awk '/Mem:/ {print $2 " GiB"}')"
  echo "kernel: $(uname -r)"
  echo "rustc: $(rustc --version)"
  echo "redis: $(redis-server --version)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "other busy processes:"
  ps -eo pcpu,comm --sort=-pcpu | awk 'NR>1 && $1 > 5.0' | head -5
} | tee "$OUT/machine.txt"

RPORT=$(free_port)
TPORT=$(free_port)
HPORT=$(free_port)
TADDR=127.0.0.1:$TPORT
HADDR=127.0.0.1:$HPORT
start_redis "$RPORT" "$OUT/redis"

TESSERA_DATA_DIR=$OUT/data TESSERA_LISTEN=$TADDR TESSERA_ISSUER=http://$TADDR \
  REDIS_URL=redis://127.0.0.1:$RPORT TESSERA_RATE_LIMIT=off \
  "$BIN/tessera" serve >"$OUT/tessera.log" 2>&1 &
PIDS+=($!)
"$BENCH" hello --listen "$HADDR" >"$OUT/hello.log" 2>&1 &
PIDS+=($!)
wait_http "http://$TADDR/healthz"
wait_http "http://$HADDR/hello"

# Users and sessions through the API: 64 users with one session each (the /v1/me tokens and
# the login accounts), and 64 users with 8 sessions each (each refresh connection chains 8
# sessions of its own round-robin, so no single session piles up access grants).
"$BENCH" setup --addr "$TADDR" --run me --users "$CONNS" --per-user 1 --out "$OUT/me.jsonl"
"$BENCH" setup --addr "$TADDR" --run rf --users "$CONNS" --per-user 8 --out "$OUT/refresh.jsonl"
# And 800 more sessions for each of those 64 users, written straight into the store (see
# bench/driver/src/seed.rs): 51 200 sessions, so that each is refreshed about once per round,
# closer to a real client's once-per-access-token cadence than the 512 chained ones above.
SPREAD=${SPREAD:-800}
"$BENCH" seed --redis "redis://127.0.0.1:$RPORT" --from "$OUT/refresh.jsonl" --per-user "$SPREAD" \
  --data-dir "$OUT/data" \
  --out "$OUT/refresh-spread.jsonl"

load() { # scenario addr round [extra…]
  local s=$1 addr=$2 r=$3
  shift 3
  "$BENCH" load --addr "$addr" --scenario "$s" --connections "$CONNS" --warmup "$WARMUP" \
    --duration "$DURATION" --round "$r" --results "$RESULTS" "$@"
}

if want load; then
  for r in $(seq "$ROUNDS"); do
    echo "== round $r/$ROUNDS: load $(cut -d' ' -f1 /proc/loadavg)"
    load hello "$HADDR" "$r"
    load me "$TADDR" "$r" --sessions "$OUT/me.jsonl"
    load refresh "$TADDR" "$r" --sessions "$OUT/refresh.jsonl" --per-conn 8 --save
    load refresh "$TADDR" "$r" --sessions "$OUT/refresh-spread.jsonl" --per-conn "$SPREAD" --save \
      --label refresh_spread
  done
fi

# Redis's own CPU per command over the load scenarios (EVALSHA: the rotations, plus the
# sessions created by setup and seed; HMGET + GET: the revocation checks).
redis-cli -p "$RPORT" INFO commandstats > "$OUT/commandstats.txt"

if want logins; then
  for r in $(seq "$LOGIN_ROUNDS"); do
    echo "== logins round $r/$LOGIN_ROUNDS"
    "$BENCH" load --addr "$TADDR" --scenario me --connections 8 --warmup "$WARMUP" \
      --duration "$DURATION" --round "$r" --label me_8conn_idle --results "$RESULTS" \
      --sessions "$OUT/me.jsonl"
    "$BENCH" logins --addr "$TADDR" --connections "$CONNS" --probe 8 --users "$OUT/me.jsonl" \
      --probe-sessions "$OUT/me.jsonl" --warmup "$WARMUP" --duration "$DURATION" \
      --round "$r" --results "$RESULTS"
  done
fi

if want roundtrips; then
  "$BENCH" roundtrips --addr "$TADDR" --redis-port "$RPORT" --sessions "$OUT/me.jsonl" \
    --n 200 | tee "$OUT/roundtrips.txt"
fi

if want propagation; then
  "$BENCH" propagation --addr "$TADDR" --redis "redis://127.0.0.1:$RPORT" \
    --issuer "http://$TADDR" --users "$OUT/me.jsonl" --samples "$PROPAGATION_SAMPLES" \
    --results "$RESULTS"
fi

if want memory; then
  # A Redis of its own, so nothing else is in the delta.
  MPORT=$(free_port)
  start_redis "$MPORT" "$OUT/redis-mem"
  "$BENCH" memory --redis "redis://127.0.0.1:$MPORT" --sessions "$MEM_SESSIONS" --per-user 1 \
    --results "$RESULTS"
  redis-cli -p "$MPORT" flushall >/dev/null
  "$BENCH" memory --redis "redis://127.0.0.1:$MPORT" --sessions "$MEM_SESSIONS" --per-user 10 \
    --results "$RESULTS"
fi

if want criterion; then
  # Criterion runs one benchmark after the other, so a noisy few seconds on a shared VM land
  # on one side only: run the pair CRITERION_RUNS times and report every ratio and their
  # median.
  : >"$OUT/criterion.txt"
  for r in $(seq "${CRITERION_RUNS:-3}"); do
    echo "== criterion run $r" | tee -a "$OUT/criterion.txt"
    cargo bench -p tessera-bench --bench guard 2>&1 | tee -a "$OUT/criterion.txt"
    python3 - "$ROOT/target/criterion/eddsa_token" <<'PY' | tee -a "$OUT/criterion.txt"
import json, sys, os
base = sys.argv[1]
est = {}
for name in ("jsonwebtoken_decode", "guard_authenticate_near_cache_hit"):
    with open(os.path.join(base, name, "new", "estimates.json")) as f:
        e = json.load(f)
    est[name] = e["median"]["point_estimate"]
    print(f"{name}: median {est[name] / 1000:.2f} µs")
print(f"ratio guard/jsonwebtoken: {est['guard_authenticate_near_cache_hit'] / est['jsonwebtoken_decode']:.3f}")
PY
  done
  grep '^ratio' "$OUT/criterion.txt" | awk '{print $3}' | sort -n |
    awk '{v[NR]=$1} END {printf "criterion ratio guard/jsonwebtoken: runs %d, median %s\n", NR, v[int((NR+1)/2)]}' |
    tee -a "$OUT/criterion.txt"
fi

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
"$BENCH" summarize --results "$RESULTS" | tee "$OUT/summary.md"
grep '"kind":"\(propagation\|memory\)"' "$RESULTS" || true
echo "results in $OUT"
