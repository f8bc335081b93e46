#!/usr/bin/env bash
# Installs what is missing, checks formatting, builds everything (node,
# client, examples, tests) with AddressSanitizer and UndefinedBehaviorSanitizer,
# fuzzes the input readers for a minute, and runs every test. Exits non-zero
# on any failure or if no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test

echo "== format"
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

echo "== build (sanitizers on)"
BUILD_DIR=build-ci scripts/build.sh -DCHORUS_SANITIZE=ON

echo "== benchmarks, short mode (the tools must keep working; figures are not judged here)"
# The load generator keeps its connections until exit; leak checks are for the node.
for wire in tcp ws; do
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 SHORT=1 BUILD_DIR=build-ci WIRE=$wire \
    RESULTS=build-ci/bench-results/$wire bench/run.sh all
done

echo "== fuzzing what the node reads from clients (60 s)"
scripts/fuzz.sh 60 -verbosity=0 # findings are still reported in full

echo "== tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-ci
ctest -j2 --output-on-failure --no-tests=error

