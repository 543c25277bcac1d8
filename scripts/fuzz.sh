#!/usr/bin/env bash
# Fuzzes every parser of outside input for a bounded time (see fuzz/README.md).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 20)
#
# 1. Replays the committed corpus (fuzz/corpus/<target>/) through every target on the
#    stable toolchain, without libFuzzer.
# 2. Builds the cargo-fuzz targets (installing cargo-fuzz if missing) and runs each for
#    SECONDS_PER_TARGET seconds, starting from the committed corpus. New inputs go to
#    fuzz/work/<target>/, never into the committed corpus.
# Fails on the first crash, leak, timeout or out-of-memory, and prints the reproducer.
#
# FUZZ_SANITIZER=address uses AddressSanitizer (slower to build and to run; default: none,
# the code under test is safe Rust). FUZZ_TARGETS="a b" runs only those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
sanitizer="${FUZZ_SANITIZER:-none}"

# FUZZ_REPLAY=0 skips step 1 (a build of its own); each libFuzzer run in step 2 starts by
# running the whole corpus anyway.
if [ "${FUZZ_REPLAY:-1}" != 0 ]; then
  echo "== fuzz: corpus replay (stable, no libFuzzer)"
  cargo test --manifest-path fuzz/Cargo.toml --no-default-features -q
fi

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo-fuzz passes unstable flags to rustc; RUSTC_BOOTSTRAP lets the stable toolchain
# accept them, so no nightly is needed (a nightly works too: FUZZ_TOOLCHAIN=+nightly).
export RUSTC_BOOTSTRAP=1
tc="${FUZZ_TOOLCHAIN:-}"
# Debug assertions on: integer overflow panics instead of wrapping silently.
flags=(--sanitizer "$sanitizer" --debug-assertions)

targets="${FUZZ_TARGETS:-$(cargo $tc fuzz list)}"
echo "== fuzz: build (sanitizer: $sanitizer)"
start=$(date +%s)
cargo $tc fuzz build "${flags[@]}"
echo "fuzz: built in $(($(date +%s) - start)) s"

for t in $targets; do
  echo "== fuzz: $t for ${secs} s"
  mkdir -p "fuzz/work/$t"
  log="fuzz/work/$t.log"
  if ! cargo $tc fuzz run "${flags[@]}" "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -n 60 "$log"
    artifact=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -n 1 | sed 's/Test unit written to //' || true)
    echo "fuzz: target $t FAILED (full log: $log)"
    if [ -n "$artifact" ]; then
      echo "fuzz: reproducer: $artifact"
      echo "fuzz: rerun with: RUSTC_BOOTSTRAP=1 cargo fuzz run ${flags[*]} $t $artifact"
      echo "fuzz: once fixed, add it to the corpus: cp $artifact fuzz/corpus/$t/"
    fi
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" | tail -n 1 || true
done
echo "fuzz: all targets passed"
