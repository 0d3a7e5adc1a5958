#!/usr/bin/env bash
# Installs what sigmagrad needs to build and test, from Debian's packages, when missing.
# Safe to run again: it only calls apt-get when a package is absent.
set -euo pipefail

# libopenmpi-dev and openmpi-bin: data-parallel training and its tests (mpirun, distributed/).
packages=(build-essential cmake ninja-build libopenblas-dev doctest-dev zlib1g-dev libcli11-dev libpng-dev
          libopenmpi-dev openmpi-bin)
# scripts/test.sh --sanitize and scripts/fuzz.sh: clang with its sanitizer and libFuzzer runtimes.
if [[ ${1:-} == --sanitize ]]; then packages+=(clang libclang-rt-14-dev); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
