#!/usr/bin/env bash
# Builds sigmagrad and runs every test with ctest. Installs what it needs when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
jobs=$(nproc 2>/dev/null || echo 2)
ctest --test-dir build --output-on-failure -j "$jobs"
