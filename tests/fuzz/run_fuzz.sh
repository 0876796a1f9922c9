#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 60)
# from its seed corpus in tests/fuzz/corpus/<name>. Fails on any crash, leak or UB report.
# Usage: tests/fuzz/run_fuzz.sh [SECONDS] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH="${1:-60}"
BUILD="${2:-build-fuzz}"
if ! command -v clang++ >/dev/null || [ ! -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DUHC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target nik_fuzz event_fuzz jsonl_fuzz policy_fuzz
status=0
for target in nik event jsonl policy; do
  work=$(mktemp -d)
  if [ "$target" = policy ]; then
    cp config/policies/*.textproto "$work"/  # the seeds are the real policies, never a copy
  else
    cp tests/fuzz/corpus/$target/* "$work"/
  fi
  echo "==> ${target}_fuzz for ${SECONDS_EACH}s"
  if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
      "$BUILD/tests/fuzz/${target}_fuzz" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
      -artifact_prefix="$BUILD/${target}-" "$work" 2>"$BUILD/${target}.log"; then
    echo "FAIL ${target}_fuzz: see $BUILD/${target}.log and $BUILD/${target}-*"; status=1
  fi
  grep -E 'stat::number_of_executed_units|Done' "$BUILD/${target}.log" | tail -1 || true
  rm -rf "$work"
done
exit $status
