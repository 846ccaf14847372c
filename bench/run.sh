#!/usr/bin/env bash
# Tessera benchmarks: builds release binaries, starts a private redis-server and `tessera
# serve` (default configuration: EdDSA, SQLite, allowlist) plus the axum hello baseline,
# creates users and sessions through the API, and measures every scenario side by side in
# one run. See bench/README.md; results go to bench/out/<timestamp>/.
#
# Knobs (environment): ROUNDS (5), DURATION (10 s), WARMUP (2 s), CONNS (64),
# SPREAD (800 seeded sessions per refresh user), LOGIN_ROUNDS (3), PROPAGATION_SAMPLES (300), MEM_SESSIONS (100000), CRITERION_RUNS (3),
# ONLY (space-separated subset of: load logins roundtrips propagation memory criterion durable
# sizing targets; sizing and targets are not in the default set), BIN (prebuilt binaries to
# measure instead of building). sizing: SIZING_ROUNDS (3), LOGIN_CONNS (16), QUIET_WAIT
# (2400 s), QUIET_LOAD (0.8). targets: TARGET_ROUNDS (5), OPEN_ROUNDS (3).
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
LOGIN_ROUNDS=${LOGIN_ROUNDS:-3}
PROPAGATION_SAMPLES=${PROPAGATION_SAMPLES:-300}
MEM_SESSIONS=${MEM_SESSIONS:-100000}
ONLY=${ONLY:-load logins roundtrips propagation memory criterion durable}

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
  cargo build --release -p tessera-server -p tessera-bench \
    $( (want sizing || want targets) && echo -p resource-server)
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

# `tessera serve` in its default configuration on its own Redis and data dir, plus any
# VAR=value given, not rate-limited.
start_tessera() { # addr redis-port data-dir log [VAR=value…]
  local addr=$1 rport=$2 dir=$3 log=$4
  shift 4
  env TESSERA_DATA_DIR="$dir" TESSERA_LISTEN="$addr" TESSERA_ISSUER="http://$addr" \
    REDIS_URL="redis://127.0.0.1:$rport" TESSERA_RATE_LIMIT=off "$@" \
    "$BIN/tessera" serve >"$log" 2>&1 &
  PIDS+=($!)
  wait_http "http://$addr/healthz"
}

# examples/resource-server (tessera-guard, near-cache on) in front of a server's Redis; its
# pid is the last in PIDS.
start_resource_server() { # addr redis-port tessera-addr log
  env REDIS_URL="redis://127.0.0.1:$2" TESSERA_URL="http://$3" LISTEN="$1" \
    "$BIN/resource-server" >"$4" 2>&1 &
  PIDS+=($!)
  wait_http "http://$1/hello"
}

# Users and sessions through the API: 64 users with one session each (the /v1/me tokens and
# the login accounts), and 64 users with 8 sessions each (each refresh connection chains 8
# sessions of its own round-robin, so no single session piles up access grants). And SPREAD
# (800) more sessions for each of those 64 users, written straight into the store (see
# bench/driver/src/seed.rs): 51 200 sessions, so that each is refreshed about once per round,
# closer to a real client's once-per-access-token cadence than the 512 chained ones.
# Writes $OUT/<prefix>me.jsonl, <prefix>refresh.jsonl, <prefix>refresh-spread.jsonl.
SPREAD=${SPREAD:-800}
make_sessions() { # addr redis-port data-dir prefix [seed flags…]
  local addr=$1 rport=$2 dir=$3 p=$4
  shift 4
  "$BENCH" setup --addr "$addr" --run me --users "$CONNS" --per-user 1 --out "$OUT/${p}me.jsonl"
  "$BENCH" setup --addr "$addr" --run rf --users "$CONNS" --per-user 8 \
    --out "$OUT/${p}refresh.jsonl"
  "$BENCH" seed --redis "redis://127.0.0.1:$rport" --from "$OUT/${p}refresh.jsonl" \
    --per-user "$SPREAD" --data-dir "$dir" --out "$OUT/${p}refresh-spread.jsonl" "$@"
}

# sizing divides by the server's own CPU time, but the 2 cores are shared: it waits (up to
# QUIET_WAIT seconds, polling every 30 s) until no rustc or cargo runs and the 1-minute load
# average is below QUIET_LOAD, and runs anyway after that, saying so in machine.txt.
QUIET=
if want sizing; then
  QUIET_WAIT=${QUIET_WAIT:-2400}
  QUIET_LOAD=${QUIET_LOAD:-0.8}
  waited=0
  while :; do
    l1=$(cut -d' ' -f1 /proc/loadavg)
    builds=$( (pgrep -x rustc || true; pgrep -x cargo || true) | wc -l)
    if ((builds == 0)) && awk -v l="$l1" -v m="$QUIET_LOAD" 'BEGIN {exit !(l < m)}'; then
      QUIET="quiet after waiting ${waited} s (load $l1, no rustc/cargo)"
      break
    fi
    if ((waited >= QUIET_WAIT)); then
      QUIET="NOT quiet: gave up after ${waited} s (load $l1, $builds rustc/cargo processes)"
      break
    fi
    echo "== waiting for a quiet machine: load $l1, $builds rustc/cargo (${waited} s of $QUIET_WAIT)"
    sleep 30
    waited=$((waited + 30))
  done
  echo "== $QUIET"
fi

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
  [[ -z $QUIET ]] || echo "quiet wait: $QUIET"
  echo "other busy processes:"
  ps -eo pcpu,comm --sort=-pcpu | awk 'NR>1 && $1 > 5.0' | head -5
} | tee "$OUT/machine.txt"

# The main server (with the mirror as configured by default) and hello, for the scenarios
# that use them.
MAIN=
for s in load logins roundtrips propagation; do want "$s" && MAIN=1; done
if [[ -n $MAIN ]]; then
  RPORT=$(free_port)
  TADDR=127.0.0.1:$(free_port)
  HADDR=127.0.0.1:$(free_port)
  start_redis "$RPORT" "$OUT/redis"
  start_tessera "$TADDR" "$RPORT" "$OUT/data" "$OUT/tessera.log"
  "$BENCH" hello --listen "$HADDR" >"$OUT/hello.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://$HADDR/hello"
  make_sessions "$TADDR" "$RPORT" "$OUT/data" "" --durable
fi

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
if want load; then redis-cli -p "$RPORT" INFO commandstats >"$OUT/commandstats.txt"; fi

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

if want durable; then
  # The durable mirror off vs on (issue 13): two servers from the same binary, each with its
  # own Redis and data dir, TESSERA_DURABLE_SESSIONS=off and =on (TESSERA_DURABLE_LAG=1s),
  # the same sessions made on each. Every round runs each scenario on both, in ABBA order
  # (off first in odd rounds, on first in even ones). Around each run: CONFIG RESETSTAT,
  # then `INFO commandstats` and the Redis process's CPU (`INFO cpu`) after it, and
  # /metrics sampled every 0.2 s during the run and 2 s after it (on both, so both pay the
  # scrape). Summarised in $OUT/durable.md.
  declare -A DADDR DRPORT
  mkdir -p "$OUT/durable"
  for side in off on; do
    DRPORT[$side]=$(free_port)
    DADDR[$side]=127.0.0.1:$(free_port)
    start_redis "${DRPORT[$side]}" "$OUT/redis-$side"
    start_tessera "${DADDR[$side]}" "${DRPORT[$side]}" "$OUT/data-$side" "$OUT/tessera-$side.log" \
      TESSERA_DURABLE_SESSIONS="$side" TESSERA_DURABLE_LAG=1s
    make_sessions "${DADDR[$side]}" "${DRPORT[$side]}" "$OUT/data-$side" "$side-" \
      $([[ $side == on ]] && echo --durable)
  done
  sample_metrics() { # addr file
    while :; do
      { echo "t $(date +%s.%N)"; curl -fs "http://$1/metrics" | grep '^tessera_durable_' || true; } >>"$2"
      sleep 0.2
    done
  }
  durable_load() { # scenario side round label [load flags…]
    local s=$1 side=$2 r=$3 label=$4
    shift 4
    local rp=${DRPORT[$side]} f=$OUT/durable/$label-$side-$r
    redis-cli -p "$rp" CONFIG RESETSTAT >/dev/null
    redis-cli -p "$rp" INFO cpu | tr -d '\r' | grep '^used_cpu_\(sys\|user\):' >"$f.cpu0"
    sample_metrics "${DADDR[$side]}" "$f.metrics" &
    local sampler=$!
    load "$s" "${DADDR[$side]}" "$r" --label "${label}_$side" "$@"
    echo end >>"$f.metrics"
    sleep 2
    kill "$sampler"
    wait "$sampler" 2>/dev/null || true
    redis-cli -p "$rp" INFO cpu | tr -d '\r' | grep '^used_cpu_\(sys\|user\):' >"$f.cpu1"
    redis-cli -p "$rp" INFO commandstats | tr -d '\r' >"$f.commandstats"
  }
  for r in $(seq "$ROUNDS"); do
    order="off on"
    ((r % 2)) || order="on off"
    echo "== durable round $r/$ROUNDS ($order): load $(cut -d' ' -f1 /proc/loadavg)"
    for side in $order; do
      durable_load me "$side" "$r" me --sessions "$OUT/$side-me.jsonl"
    done
    for side in $order; do
      durable_load refresh "$side" "$r" refresh --sessions "$OUT/$side-refresh.jsonl" \
        --per-conn 8 --save
    done
    for side in $order; do
      durable_load refresh "$side" "$r" refresh_spread --per-conn "$SPREAD" --save \
        --sessions "$OUT/$side-refresh-spread.jsonl"
    done
  done
  python3 - "$RESULTS" "$OUT/durable" <<'PY' | tee "$OUT/durable.md"
import json, os, re, statistics as st, sys
results, d = sys.argv[1], sys.argv[2]
runs = {}
for line in open(results):
    v = json.loads(line)
    m = re.fullmatch(r"(.+)_(on|off)", v.get("label", ""))
    if v.get("kind") == "load" and m:
        runs[(m[1], m[2], v["round"])] = v
def redis(label, side, r):
    f = f"{d}/{label}-{side}-{r}"
    cpu = lambda x: sum(float(l.split(":")[1]) for l in open(f"{f}.{x}"))
    stats = {}
    for l in open(f"{f}.commandstats"):
        m = re.match(r"cmdstat_(\w+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)", l)
        if m:
            stats[m[1]] = (int(m[2]), int(m[3]), float(m[4]))
    script = next((c for c in ("fcall", "evalsha") if c in stats), None)
    calls = stats[script][0] if script else 0
    return script, stats.get(script, (0, 0, float("nan")))[2], (cpu("cpu1") - cpu("cpu0")) * 1e6 / calls if calls else float("nan")
def samples(label, r):
    # [during the load (warm-up included), after it]: lag and queue samples
    out, i = [([], []), ([], [])], 0
    for l in open(f"{d}/{label}-on-{r}.metrics"):
        k, _, v = l.strip().partition(" ")
        if k == "end": i = 1
        if k == "tessera_durable_lag_seconds": out[i][0].append(float(v))
        if k == "tessera_durable_queue_length": out[i][1].append(float(v))
    return out
med = lambda v: st.median(v) if v else float("nan")
rounds = sorted({r for (_, _, r) in runs})
print("| scenario | round | off req/s | on req/s | on/off | off p99 ms | on p99 ms | Redis µs/call of the script (off / on) | Redis process CPU µs per script call (off / on) |")
print("|---|---|---|---|---|---|---|---|---|")
for label in ("me", "refresh", "refresh_spread"):
    ratios = []
    for r in rounds:
        a, b = runs.get((label, "off", r)), runs.get((label, "on", r))
        if not (a and b): continue
        ratios.append(b["rps"] / a["rps"])
        so, uo, co = redis(label, "off", r)
        sn, un, cn = redis(label, "on", r)
        cmd = f"{so or sn}: {uo:.2f} / {un:.2f}" if label != "me" else "–"
        cpu = f"{co:.1f} / {cn:.1f}" if label != "me" else "–"
        print(f"| {label} | {r} | {a['rps']:.0f} | {b['rps']:.0f} | {b['rps'] / a['rps']:.3f} | {a['p99_us'] / 1000:.2f} | {b['p99_us'] / 1000:.2f} | {cmd} | {cpu} |")
    off = med([runs[(label, 'off', r)]["rps"] for r in rounds if (label, 'off', r) in runs])
    on = med([runs[(label, 'on', r)]["rps"] for r in rounds if (label, 'on', r) in runs])
    print(f"| **{label}** | median | {off:.0f} | {on:.0f} | {on / off:.3f} (median of per-round ratios {med(ratios):.3f}) | | | | |")
print()
print("/metrics of the mirror-on server sampled every 0.2 s; medians over the samples taken during the loads, maxima over those and the 2 s after each")
print()
print("| scenario (mirror on) | samples (during + after) | lag median s | lag max s | queue median | queue max |")
print("|---|---|---|---|---|---|")
nan = float("nan")
for label in ("me", "refresh", "refresh_spread"):
    lag, queue, lag_all, queue_all = [], [], [], []
    for r in rounds:
        if os.path.exists(f"{d}/{label}-on-{r}.metrics"):
            (l0, q0), (l1, q1) = samples(label, r)
            lag += l0
            queue += q0
            lag_all += l0 + l1
            queue_all += q0 + q1
    print(f"| {label} | {len(lag)} + {len(lag_all) - len(lag)} | {med(lag):.3f} | {max(lag_all, default=nan):.3f} | {med(queue):.0f} | {max(queue_all, default=nan):.0f} |")
PY
  for side in off on; do
    echo "durable $side, final counters:"
    curl -fs "http://${DADDR[$side]}/metrics" | grep '^tessera_durable_' || true
  done | tee -a "$OUT/durable.md"
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

if want sizing; then
  # Per-vCPU sizing (issues 16 and 17): one more server from the same binary, default
  # configuration plus an introspection client, its own Redis, and examples/resource-server
  # (tessera-guard with its near-cache) in front of the same Redis. Each round runs every
  # workload once, closed loop; the driver reads the server process's utime + stime
  # (/proc/<pid>/stat: tessera, or the resource server for guard), its own, the machine's,
  # and Redis's INFO cpu / commandstats when the warm-up ends and when the window closes.
  # Requests per server CPU-second = per vCPU. Redis gets CONFIG RESETSTAT before each run.
  SIZING_ROUNDS=${SIZING_ROUNDS:-3}
  LOGIN_CONNS=${LOGIN_CONNS:-16}
  SRPORT=$(free_port)
  SADDR=127.0.0.1:$(free_port)
  GADDR=127.0.0.1:$(free_port)
  # An id and a secret of at least 32 characters (only ever on this private port).
  SCLIENT=bench-gateway:bench-introspection-secret-0123456789
  start_redis "$SRPORT" "$OUT/redis-sizing"
  start_tessera "$SADDR" "$SRPORT" "$OUT/data-sizing" "$OUT/tessera-sizing.log" \
    TESSERA_INTROSPECTION_CLIENTS="$SCLIENT"
  SPID=${PIDS[-1]}
  start_resource_server "$GADDR" "$SRPORT" "$SADDR" "$OUT/resource-server.log"
  GPID=${PIDS[-1]}
  make_sessions "$SADDR" "$SRPORT" "$OUT/data-sizing" "sizing-" --durable
  sizing_load() { # workload addr pid round [load flags…]
    local w=$1 addr=$2 pid=$3 r=$4
    shift 4
    redis-cli -p "$SRPORT" CONFIG RESETSTAT >/dev/null
    "$BENCH" load --addr "$addr" --warmup "$WARMUP" --duration "$DURATION" --round "$r" \
      --label "sizing_$w" --results "$RESULTS" --server-pid "$pid" \
      --redis "redis://127.0.0.1:$SRPORT" "$@"
    sleep 1 # the durable mirror's flush (1 s lag) and the stats batches settle
  }
  for r in $(seq "$SIZING_ROUNDS"); do
    echo "== sizing round $r/$SIZING_ROUNDS: load $(cut -d' ' -f1 /proc/loadavg)"
    sizing_load login "$SADDR" "$SPID" "$r" --scenario login --connections "$LOGIN_CONNS" \
      --per-conn 4 --sessions "$OUT/sizing-me.jsonl"
    sizing_load refresh "$SADDR" "$SPID" "$r" --scenario refresh --connections "$CONNS" \
      --per-conn "$SPREAD" --sessions "$OUT/sizing-refresh-spread.jsonl" --save
    sizing_load me "$SADDR" "$SPID" "$r" --scenario me --connections "$CONNS" \
      --sessions "$OUT/sizing-me.jsonl"
    sizing_load introspect "$SADDR" "$SPID" "$r" --scenario introspect --connections "$CONNS" \
      --sessions "$OUT/sizing-me.jsonl" --client "$SCLIENT"
    sizing_load guard "$GADDR" "$GPID" "$r" --scenario guard --connections "$CONNS" \
      --sessions "$OUT/sizing-me.jsonl"
  done
  curl -fs "http://$GADDR/healthz" >"$OUT/resource-server-healthz.json" || true
  # Redis bytes per live session: the memory scenario's figure (run here unless it ran).
  if ! want memory; then
    MPORT=$(free_port)
    start_redis "$MPORT" "$OUT/redis-mem"
    for per in 1 10; do
      redis-cli -p "$MPORT" flushall >/dev/null
      "$BENCH" memory --redis "redis://127.0.0.1:$MPORT" --sessions "$MEM_SESSIONS" \
        --per-user "$per" --results "$RESULTS"
    done
  fi
  ARGON2=$(grep -o 'OWASP parameters: .*' crates/tessera-server/src/accounts/password.rs || true)
  python3 - "$RESULTS" "$OUT/machine.txt" "$ARGON2" "$LOGIN_CONNS" "$((CONNS * SPREAD))" <<'PY' | tee "$OUT/sizing.md"
import json, statistics as st, sys
results, machine, argon2, login_conns, spread = sys.argv[1:6]
argon2 = "Argon2id " + argon2.replace("OWASP parameters: ", "").rstrip(".") if argon2 else "Argon2id"
rows, mem = {}, {}
for line in open(results):
    v = json.loads(line)
    if v.get("kind") == "load" and v.get("label", "").startswith("sizing_"):
        rows.setdefault(v["label"][7:], []).append(v)
    if v.get("kind") == "memory":
        mem[v["per_user"]] = v["bytes_per_session"]
med = lambda xs: st.median(xs) if xs else float("nan")
def calls(v, only=None):
    c = v.get("redis_calls") or {}
    return sum(n for k, n in c.items() if only is None or k == only)
def per_req(v, x):
    n = v.get("requests_in_window") or 0
    return x / n if n else float("nan")
def fig(v):
    return {
        "per_vcpu": v["per_server_cpu_s"] or float("nan"),
        "rps": v["rps"],
        "p50": v["p50_us"] / 1000,
        "p99": v["p99_us"] / 1000,
        "cores": v["server_cpu_s"] / v["window_wall_s"],
        "driver": v["driver_cpu_s"] / v["window_wall_s"],
        "redis_cores": (v["redis_cpu_s"] or 0) / v["window_wall_s"],
        "other": v["other_cpu_s"] / v["window_wall_s"],
        "cmds": per_req(v, calls(v)),
        "evalsha": per_req(v, calls(v, "evalsha")),
        "redis_us": per_req(v, (v["redis_cpu_s"] or 0) * 1e6),
        "errors": v["errors"],
    }
names = {
    "login": f"password sign-ins (`POST /v1/auth/login`, {argon2}, {login_conns} conns)",
    "refresh": f"refreshes (`POST /v1/auth/refresh` over {int(spread):,} sessions)",
    "me": "`GET /v1/me` verifications",
    "introspect": "introspections (`POST /oauth2/introspect`, HTTP Basic client)",
    "guard": "guard verifications (`examples/resource-server`, near-cache)",
}
print("\n".join(l for l in open(machine).read().splitlines() if not l.startswith(" ")))
print()
print("| workload | per vCPU (req per server CPU-s) | req/s | p50 ms | p99 ms | server cores busy | Redis cmds / req | EVALSHA / req | Redis CPU µs / req |")
print("|---|---|---|---|---|---|---|---|---|")
for w in names:
    f = [fig(v) for v in rows.get(w, [])]
    if not f:
        continue
    m = {k: med([x[k] for x in f]) for k in f[0]}
    print(f"| {names[w]} | **{m['per_vcpu']:.0f}** | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['cores']:.2f} | {m['cmds']:.2f} | {m['evalsha']:.2f} | {m['redis_us']:.1f} |")
print()
print(f"Redis bytes per live session (`memory`): {mem.get(1, float('nan')):.1f} B with 1 session per user, {mem.get(10, float('nan')):.1f} B with 10 per user")
print()
print("Per round (cores = CPU-seconds per wall second of the measured window):")
print()
print("| workload | round | per vCPU | req/s | p50 ms | p99 ms | server cores | driver cores | Redis cores | other cores | Redis cmds / req | Redis CPU µs / req | errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for w in names:
    for v in rows.get(w, []):
        x = fig(v)
        print(f"| {w} | {v['round']} | {x['per_vcpu']:.0f} | {x['rps']:.0f} | {x['p50']:.2f} | {x['p99']:.2f} | {x['cores']:.2f} | {x['driver']:.2f} | {x['redis_cores']:.2f} | {x['other']:.2f} | {x['cmds']:.2f} | {x['redis_us']:.1f} | {x['errors']} |")
print()
print("Redis commands per request by command (median over rounds; commands run inside scripts count too):")
print()
for w in names:
    cmds = sorted({k for v in rows.get(w, []) for k in (v.get("redis_calls") or {})})
    parts = [f"{k} {med([per_req(v, (v.get('redis_calls') or {}).get(k, 0)) for v in rows[w]]):.3f}" for k in cmds]
    print(f"- {w}: {', '.join(parts) or 'none'}")
PY
fi

if want targets; then
  # Issue 17's targets from one run: a server of its own (default configuration, so the
  # durable mirror is on), its own Redis, the hello baseline, and examples/resource-server on
  # that Redis (its /hello is the same binary without the guard). Closed loop first,
  # TARGET_ROUNDS rounds with every workload interleaved: hello, the example's hello, the
  # guard, /v1/me, refresh chained (8 sessions per connection, at the grant cap) and refresh
  # spread over CONNS × SPREAD sessions; each run measures the serving process's CPU and
  # Redis's (CONFIG RESETSTAT before). Then open loop (the driver's --rate: latency from the
  # scheduled time) at 50 % and 80 % of each workload's median closed-loop throughput, for
  # /v1/me, the guard and refresh spread, OPEN_ROUNDS times. Summarised in targets.md.
  TARGET_ROUNDS=${TARGET_ROUNDS:-5}
  OPEN_ROUNDS=${OPEN_ROUNDS:-3}
  TRPORT=$(free_port)
  TTADDR=127.0.0.1:$(free_port)
  THADDR=127.0.0.1:$(free_port)
  TGADDR=127.0.0.1:$(free_port)
  start_redis "$TRPORT" "$OUT/redis-targets"
  start_tessera "$TTADDR" "$TRPORT" "$OUT/data-targets" "$OUT/tessera-targets.log"
  TTPID=${PIDS[-1]}
  "$BENCH" hello --listen "$THADDR" >"$OUT/hello-targets.log" 2>&1 &
  THPID=$!
  PIDS+=("$THPID")
  start_resource_server "$TGADDR" "$TRPORT" "$TTADDR" "$OUT/resource-server-targets.log"
  TGPID=${PIDS[-1]}
  wait_http "http://$THADDR/hello"
  make_sessions "$TTADDR" "$TRPORT" "$OUT/data-targets" "targets-" --durable
  target_load() { # label addr pid round [load flags…]
    local label=$1 addr=$2 pid=$3 r=$4
    shift 4
    redis-cli -p "$TRPORT" CONFIG RESETSTAT >/dev/null
    "$BENCH" load --addr "$addr" --warmup "$WARMUP" --duration "$DURATION" --round "$r" \
      --label "target_$label" --results "$RESULTS" --server-pid "$pid" \
      --redis "redis://127.0.0.1:$TRPORT" "$@"
  }
  target_me() { target_load "$1" "$TTADDR" "$TTPID" "$2" --scenario me --connections "$CONNS" \
    --sessions "$OUT/targets-me.jsonl" "${@:3}"; }
  target_guard() { target_load "$1" "$TGADDR" "$TGPID" "$2" --scenario guard \
    --connections "$CONNS" --sessions "$OUT/targets-me.jsonl" "${@:3}"; }
  target_spread() { target_load "$1" "$TTADDR" "$TTPID" "$2" --scenario refresh \
    --connections "$CONNS" --per-conn "$SPREAD" --sessions "$OUT/targets-refresh-spread.jsonl" \
    --save "${@:3}"; }
  for r in $(seq "$TARGET_ROUNDS"); do
    echo "== targets round $r/$TARGET_ROUNDS: load $(cut -d' ' -f1 /proc/loadavg)"
    target_load hello "$THADDR" "$THPID" "$r" --scenario hello --connections "$CONNS"
    target_load example_hello "$TGADDR" "$TGPID" "$r" --scenario hello --connections "$CONNS"
    target_guard guard "$r"
    target_me me "$r"
    target_load refresh "$TTADDR" "$TTPID" "$r" --scenario refresh --connections "$CONNS" \
      --per-conn 8 --sessions "$OUT/targets-refresh.jsonl" --save
    target_spread refresh_spread "$r"
    sleep 1 # the durable mirror's flush (1 s lag) settles
  done
  # The median closed-loop throughput of a workload, times a fraction.
  rate_of() { # label fraction
    python3 - "$RESULTS" "$1" "$2" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rps = [v["rps"] for v in rows if v.get("kind") == "load" and v.get("label") == f"target_{sys.argv[2]}"]
print(round(statistics.median(rps) * float(sys.argv[3])))
PY
  }
  for r in $(seq "$OPEN_ROUNDS"); do
    echo "== targets open loop round $r/$OPEN_ROUNDS: load $(cut -d' ' -f1 /proc/loadavg)"
    for pct in 50 80; do
      f=0.$pct
      target_me "me_open$pct" "$r" --rate "$(rate_of me "$f")"
      target_guard "guard_open$pct" "$r" --rate "$(rate_of guard "$f")"
      target_spread "refresh_spread_open$pct" "$r" --rate "$(rate_of refresh_spread "$f")"
      # The floor: a hello at the same rates, so the driver's and the machine's share of
      # the latency is seen (same binary for the guard, the baseline for /v1/me).
      target_load "hello_at_me_open$pct" "$THADDR" "$THPID" "$r" --scenario hello \
        --connections "$CONNS" --rate "$(rate_of me "$f")"
      target_load "example_hello_at_guard_open$pct" "$TGADDR" "$TGPID" "$r" --scenario hello \
        --connections "$CONNS" --rate "$(rate_of guard "$f")"
      sleep 1
    done
  done
  python3 - "$RESULTS" "$OUT/machine.txt" "$((CONNS * SPREAD))" <<'PY' | tee "$OUT/targets.md"
import json, statistics as st, sys
results, machine, spread = sys.argv[1:4]
rows = {}
for line in open(results):
    v = json.loads(line)
    if v.get("kind") == "load" and v.get("label", "").startswith("target_"):
        rows.setdefault(v["label"][7:], []).append(v)
med = lambda xs: st.median(xs) if xs else float("nan")
def m(label, key):
    return med([v[key] for v in rows.get(label, []) if v.get(key) is not None])
def per_req(label, key, scale=1.0):
    return med([v[key] * scale / v["requests_in_window"] for v in rows.get(label, [])
                if v.get(key) is not None and v.get("requests_in_window")])
def evalsha_us(label):
    # Redis's own time inside the scripts (INFO commandstats usec) per request.
    return med([v["redis_usec"]["evalsha"] / v["requests_in_window"] for v in rows.get(label, [])
                if (v.get("redis_usec") or {}).get("evalsha") and v.get("requests_in_window")])
rps = {k: m(k, "rps") for k in rows}
ms = lambda label, key: m(label, key) / 1000
print("\n".join(l for l in open(machine).read().splitlines() if not l.startswith(" ")))
print()
print(f"Closed loop, {len(rows.get('hello', []))} rounds interleaved, medians:")
print()
print("| workload | req/s | p50 ms | p99 ms | serving process CPU µs / req | Redis CPU µs / req | Redis µs in scripts / req |")
print("|---|---|---|---|---|---|---|")
for k in ("hello", "example_hello", "guard", "me", "refresh", "refresh_spread"):
    if k in rows:
        print(f"| {k} | {rps[k]:.0f} | {ms(k, 'p50_us'):.2f} | {ms(k, 'p99_us'):.2f} | {per_req(k, 'server_cpu_s', 1e6):.1f} | {per_req(k, 'redis_cpu_s', 1e6):.1f} | {evalsha_us(k):.1f} |")
print()
def target(name, got, want, ok):
    print(f"| {name} | {got} | {want} | {'met' if ok else '**missed**'} |")
h, eh = rps.get("hello", float("nan")), rps.get("example_hello", float("nan"))
print("| target | measured | wanted | |")
print("|---|---|---|---|")
g, me = rps.get("guard", float("nan")), rps.get("me", float("nan"))
target("guard ÷ the example's own hello", f"{g / eh:.3f}", "≥ 0.8", g / eh >= 0.8)
target("guard ÷ `/v1/me`", f"{g / me:.3f}", "≥ 1.5", g / me >= 1.5)
target("`/v1/me` ÷ hello", f"{me / h:.3f}", "≥ 0.55", me / h >= 0.55)
target("`/v1/me` p99 (closed loop)", f"{ms('me', 'p99_us'):.2f} ms", "≤ 3 ms", ms('me', 'p99_us') <= 3)
rc, rs = rps.get("refresh", float("nan")), rps.get("refresh_spread", float("nan"))
target("refresh chained ÷ hello", f"{rc / h:.3f}", "≥ 0.20", rc / h >= 0.20)
target(f"refresh over {int(spread):,} sessions ÷ hello", f"{rs / h:.3f}", "≥ 0.25", rs / h >= 0.25)
for k, want in (("me", 1.0), ("guard", 1.0), ("refresh_spread", 2.0)):
    p = ms(f"{k}_open50", "p99_us")
    target(f"{k} p99, open loop at 50 %", f"{p:.2f} ms", f"≤ {want:g} ms", p <= want)
print()
print(f"Open loop (latency from the scheduled time, see bench/README.md), {len(rows.get('me_open50', []))} rounds, medians:")
print()
print("| workload | load | rate req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | unsent at the end | driver lag p99 ms |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for k in ("me", "hello_at_me", "guard", "example_hello_at_guard", "refresh_spread"):
    for pct in (50, 80):
        l = f"{k}_open{pct}"
        if l in rows:
            errs = sum(v["errors"] for v in rows[l])
            unsent = sum(v.get("unsent", 0) for v in rows[l])
            print(f"| {k} | {pct} % | {m(l, 'rate'):.0f} | {rps[l]:.0f} | {ms(l, 'p50_us'):.2f} | {ms(l, 'p99_us'):.2f} | {ms(l, 'p999_us'):.2f} | {ms(l, 'max_us'):.2f} | {errs} | {unsent} | {ms(l, 'driver_lag_p99_us'):.2f} |")
print()
print("Every run:")
print()
print("| label | round | req/s | p50 ms | p99 ms | p99.9 ms | serving CPU cores | Redis cores | driver cores |")
print("|---|---|---|---|---|---|---|---|---|")
for k, vs in rows.items():
    for v in vs:
        w = v.get("window_wall_s") or float("nan")
        print(f"| {k} | {v['round']} | {v['rps']:.0f} | {v['p50_us']/1000:.2f} | {v['p99_us']/1000:.2f} | {v['p999_us']/1000:.2f} | {(v.get('server_cpu_s') or 0)/w:.2f} | {(v.get('redis_cpu_s') or 0)/w:.2f} | {(v.get('driver_cpu_s') or 0)/w:.2f} |")
PY
fi

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
"$BENCH" summarize --results "$RESULTS" | tee "$OUT/summary.md"
grep '"kind":"\(propagation\|memory\)"' "$RESULTS" || true
echo "results in $OUT"
