#!/usr/bin/env bash
# The 503s while Redis is away (issue 16, item 5): `tessera serve` (release, default
# configuration, `TESSERA_RATE_LIMIT=off`) on a private redis-server, 8 users signed in,
# then `GET /v1/me` by 8 closed-loop connections: with Redis up; with Redis killed
# (SIGKILL) once the circuit breaker is open; with Redis paused (SIGSTOP) once it is open.
# Each run appends a JSON line (req/s, p50, p99, max, errors) to $OUT/results.jsonl.
#
# Knobs (environment): DURATION (5 s), WARMUP (1 s), CONNS (8), BIN (prebuilt binaries).
set -euo pipefail

DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-8}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out/fault-$(date +%Y%m%d-%H%M%S)}
OUT=$(realpath -m "$OUT")
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl

cd "$ROOT"
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
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

RPORT=$(free_port)
TADDR=127.0.0.1:$(free_port)
REDIS_PID=
start_redis() {
  mkdir -p "$OUT/redis"
  redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --dir "$OUT/redis" --logfile "$OUT/redis/redis.log" &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  for _ in $(seq 100); do
    redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  echo "redis-server on $RPORT did not start" >&2
  return 1
}

wait_metric() { # value: waits until tessera_state_store_breaker_open is it
  for _ in $(seq 300); do
    curl -fs "http://$TADDR/metrics" | grep -qx "tessera_state_store_breaker_open $1" && return 0
    sleep 0.05
  done
  echo "the breaker never became $1" >&2
  return 1
}

wait_ok() { # token file: waits until /v1/me answers 200 again
  local at
  at=$(head -1 "$1" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["access_token"])')
  for _ in $(seq 300); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $at" "http://$TADDR/v1/me") == 200 ]] && return 0
    sleep 0.05
  done
  echo "/v1/me never answered 200 again" >&2
  return 1
}

me() { # label sessions [extra…]
  local label=$1 sessions=$2
  shift 2
  "$BENCH" load --addr "$TADDR" --scenario me --connections "$CONNS" --warmup "$WARMUP" \
    --duration "$DURATION" --sessions "$sessions" --label "$label" --results "$RESULTS" "$@"
}

{
  echo "date: $(date -Is)"
  echo "git: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
  echo "nproc: $(nproc)"
  echo "redis: $(redis-server --version)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

start_redis
env TESSERA_DATA_DIR="$OUT/data" TESSERA_LISTEN="$TADDR" TESSERA_ISSUER="http://$TADDR" \
  REDIS_URL="redis://127.0.0.1:$RPORT" TESSERA_RATE_LIMIT=off \
  "$BIN/tessera" serve >"$OUT/tessera.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do curl -fs -o /dev/null "http://$TADDR/healthz" && break; sleep 0.05; done

"$BENCH" setup --addr "$TADDR" --run up --users "$CONNS" --per-user 1 --out "$OUT/up.jsonl"
me up "$OUT/up.jsonl"

# Killed: the breaker opens, every answer is a 503.
kill -KILL "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null || true
wait_metric 1
me killed "$OUT/up.jsonl" --errors-expected

# Back (empty: new sessions), then paused.
start_redis
wait_metric 0
"$BENCH" setup --addr "$TADDR" --run pa --users "$CONNS" --per-user 1 --out "$OUT/paused.jsonl"
wait_ok "$OUT/paused.jsonl"
kill -STOP "$REDIS_PID"
wait_metric 1
me paused "$OUT/paused.jsonl" --errors-expected
kill -CONT "$REDIS_PID"
wait_ok "$OUT/paused.jsonl"
me resumed "$OUT/paused.jsonl"

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
{ grep -c "circuit breaker open" "$OUT/tessera.log" || true; } | sed 's/^/breaker opened (log lines): /' | tee -a "$OUT/machine.txt"
