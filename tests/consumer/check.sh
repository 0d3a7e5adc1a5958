#!/usr/bin/env bash
# Builds a program outside sigmagrad's tree against sigmagrad, both ways a user can, and
# runs it (tests/consumer/main.cpp: checks a gradient, exits non-zero when it is wrong):
#   1. installed: cmake --install into a temporary prefix, then find_package(sigmagrad)
#      in tests/consumer/ with CMAKE_PREFIX_PATH pointing there;
#   2. from source: tests/consumer/add_subdirectory/ pulls the repository in with
#      add_subdirectory (CPU only; compiles the library a second time).
# Usage: tests/consumer/check.sh [BUILD_DIR]
#   BUILD_DIR  an existing build of sigmagrad to install from (scripts/test.sh passes
#              build/); without it, the library is configured and built in a temporary one.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ -n ${1:-} ]]; then
  build=$(cd "$1" && pwd)
else
  build=$tmp/sigmagrad-build
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIGMAGRAD_CUDA=OFF \
    -DSIGMAGRAD_BUILD_TESTS=OFF -DSIGMAGRAD_BUILD_EXAMPLES=OFF -DSIGMAGRAD_BUILD_BENCH=OFF >/dev/null
fi
# cmake --install copies what is built and builds nothing; in an up-to-date build this is a no-op.
nice -n 19 cmake --build "$build" --target sigmagrad -j "$jobs"

echo "== installed package: find_package(sigmagrad)"
cmake --install "$build" --prefix "$tmp/installed" >/dev/null
# Consumed from somewhere else than where it was installed: the package must be relocatable.
mv "$tmp/installed" "$tmp/moved"
cmake -S "$repo/tests/consumer" -B "$tmp/consumer-installed" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/moved" >/dev/null
cmake --build "$tmp/consumer-installed" -j "$jobs"
"$tmp/consumer-installed/consumer"

echo "== from source: add_subdirectory(sigmagrad)"
# No build type: the parent project's default, and the quickest to compile.
cmake -S "$repo/tests/consumer/add_subdirectory" -B "$tmp/consumer-subdirectory" -G Ninja -DSIGMAGRAD_CUDA=OFF >/dev/null
nice -n 19 cmake --build "$tmp/consumer-subdirectory" -j "$jobs"
"$tmp/consumer-subdirectory/consumer"
echo "consumer check: both ways build and compute the right gradient"
