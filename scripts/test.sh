#!/usr/bin/env bash
# Builds sigmagrad and runs every test with ctest. Installs what it needs when missing.
#   scripts/test.sh              the Release build in build/ (CUDA when nvcc is there), then
#                                a program outside the tree built against it, installed and
#                                by add_subdirectory (tests/consumer/check.sh)
#   scripts/test.sh --sanitize   the whole suite under AddressSanitizer + UndefinedBehavior-
#                                Sanitizer (clang, CPU only, no block cache) in build-sanitize/
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
if [[ ${1:-} == --sanitize ]]; then
  bash scripts/build-sanitize.sh
  # Any report stops the test that caused it (UBSan included), with a stack trace.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  ctest --test-dir build-sanitize --output-on-failure -j "$jobs"
  exit
fi
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$jobs"
# A step here, not a ctest entry: it tests the build system rather than the library, it
# compiles the library a second time (the add_subdirectory route), which would run next
# to the suite on the same cores at every ctest, and the sanitizer build, which registers
# the same tests, gives an instrumented library that a plain consumer cannot link.
bash tests/consumer/check.sh build
