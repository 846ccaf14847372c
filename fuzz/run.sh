#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each (default 20) and fails on the
# first finding: a panic, a single allocation over MALLOC_LIMIT_MB, a process over
# RSS_LIMIT_MB, or one input running longer than 10 s. The crashing input is kept in
# fuzz/artifacts/<target>/ (ignored by git); `cargo +nightly fuzz run <target> <file>` replays it.
#
#   fuzz/run.sh                 # CI: a short run of every target
#   fuzz/run.sh 600             # ten minutes each
#   fuzz/run.sh 3600 forwarded  # one target for an hour
#   FUZZ_PROFILE=dev fuzz/run.sh 30   # CI: unoptimised build, about half the build time
#
# Each run starts from the seeds in fuzz/corpus/<target>/ and writes what it discovers to a
# temporary directory (libFuzzer adds new inputs to the first corpus directory only), so the
# committed corpus stays the small hand-picked one. Set FUZZ_KEEP_CORPUS=DIR to keep the
# grown corpora in DIR/<target>/ instead (they are worth reusing for a long run).
#
# Needs nightly and cargo-fuzz: `rustup toolchain install nightly`,
# `cargo install cargo-fuzz --locked`.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(access_token refresh_token forwarded config_file json_bodies)
fi
rss_limit_mb="${RSS_LIMIT_MB:-1024}"
malloc_limit_mb="${MALLOC_LIMIT_MB:-256}"
# `release` (the default: optimised, many more inputs per second, for real runs) or `dev`
# (unoptimised with debug assertions: builds in about half the time, which is what a short
# CI run is dominated by, but runs 5–20 times fewer inputs a second: a smoke test, not a
# search).
profile="${FUZZ_PROFILE:-release}"
case "$profile" in
  release) build_flag=--release; out=release ;;
  dev) build_flag=--dev; out=debug ;;
  *) echo "FUZZ_PROFILE must be release or dev" >&2; exit 2 ;;
esac

# The shared dependencies at exactly the versions of the workspace's lock file; cargo adds
# the fuzz-only ones (libfuzzer-sys) to this copy.
cp ../Cargo.lock Cargo.lock

start=$(date +%s)
cargo +nightly fuzz build "$build_flag"
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
echo "fuzz: targets built ($profile) in $(($(date +%s) - start)) s"

work="${FUZZ_KEEP_CORPUS:-}"
if [ -z "$work" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

for target in "${targets[@]}"; do
  mkdir -p "$work/$target"
  echo "fuzz: $target for ${seconds} s"
  log="$work/$target.log"
  status=0
  # The binary itself, not `cargo fuzz run`: that would rebuild first whenever a source
  # changed since the build above, in the middle of the loop.
  mkdir -p "artifacts/$target"
  "target/$triple/$out/$target" "$work/$target" "corpus/$target" \
    -artifact_prefix="artifacts/$target/" \
    -max_total_time="$seconds" \
    -timeout=10 \
    -max_len=8192 \
    -rss_limit_mb="$rss_limit_mb" \
    -malloc_limit_mb="$malloc_limit_mb" \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    # The finding (panic message, backtrace, input), without libFuzzer's progress lines.
    grep -v -E '^#[0-9]|^INFO: |^ +#[0-9]+ 0x' "$log" | head -n 150 || true
    echo "fuzz: $target FAILED (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(Done |stat::(number_of_executed_units|new_units_added|peak_rss_mb))' "$log" || true
done
echo "fuzz: all ${#targets[@]} targets ran ${seconds} s each without a finding ($(($(date +%s) - start)) s in all)"
