#!/usr/bin/env bash
# Configures and builds the sanitizer build into build-sanitize/: clang, AddressSanitizer
# and UndefinedBehaviorSanitizer on every object, the CPU block cache off, CUDA off, MPI off
# (Open MPI's own allocations would drown the leak report; the single-process path of
# distributed/ is what the suite checks there), no lessons (examples/learn: the same calls
# as the suite, compiled six more times), no bench/ programs (no test runs them; the
# Release build compiles them), and the libFuzzer targets of fuzz/. Used by
# scripts/test.sh --sanitize and scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --sanitize
jobs=$(nproc 2>/dev/null || echo 2)
# -O1: a third of -O3's build time, and ASan's documented setting for useful traces; line
# tables only (file:line in the reports) rather than full -g, which compiles slower.
CC=clang CXX=clang++ cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Sanitize \
  -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -gline-tables-only" -DCMAKE_C_FLAGS_SANITIZE="-O1 -gline-tables-only" \
  -DSIGMAGRAD_CUDA=OFF -DSIGMAGRAD_MPI=OFF -DSIGMAGRAD_BUILD_LESSONS=OFF -DSIGMAGRAD_BUILD_BENCH=OFF -DSIGMAGRAD_SANITIZE=ON -DSIGMAGRAD_FUZZ=ON "$@" >/dev/null
cmake --build build-sanitize -j "$jobs"
