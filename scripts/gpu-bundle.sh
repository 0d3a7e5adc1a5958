#!/usr/bin/env bash
# Packs the three programs bench/run_gpu.sh runs on a lent GPU machine, with the shared
# libraries they load, into gpu-bundle/sigmagrad-gpu.tar.xz (about 15 MB; gpu-bundle/ is
# ignored by git, and the device tool's `carry` takes it along).
#
#   bash scripts/gpu-bundle.sh
#
# Why a bundle: that machine has the NVIDIA driver, the CUDA toolkit and PyTorch, but not
# Debian's OpenBLAS, libpng or Open MPI, and no package registry, so programs built here
# (by scripts/build.sh) would stop at "error while loading shared libraries". So:
# - a build of its own in build-gpu/, without MPI and NCCL (NCCL alone is over 200 MB;
#   one GPU needs neither), whose programs look for their libraries first in ../lib beside
#   them (an RPATH of $ORIGIN/../lib, which the loader also applies to the libraries'
#   own dependencies, such as OpenBLAS's libgfortran);
# - every library the loader finds for them, except glibc's own (that machine's glibc is
#   newer, and a program must use the glibc of the machine it runs on);
# - not cuBLAS, which the CUDA backend opens at run time (cuda/cublas_library.cu) and which
#   that machine has (bench/run_gpu.sh puts its folder on LD_LIBRARY_PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIGMAGRAD_MPI=OFF \
  '-DCMAKE_BUILD_RPATH=$ORIGIN/../lib' -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags > /dev/null
cmake --build build-gpu -j "$(nproc 2>/dev/null || echo 2)" --target sigmagrad_tests mnist_gan gan_step

programs=(build-gpu/tests/sigmagrad_tests build-gpu/examples/mnist_gan build-gpu/bench/gan_step)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" gpu-bundle
cp "${programs[@]}" "$stage/bin/"
ldd "${programs[@]}" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u | while read -r library; do
  case $(basename "$library") in
    libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | ld-linux*) ;;  # glibc
    *) cp -L "$library" "$stage/lib/" ;;
  esac
done
tar -C "$stage" -cJf gpu-bundle/sigmagrad-gpu.tar.xz.part bin lib
mv gpu-bundle/sigmagrad-gpu.tar.xz.part gpu-bundle/sigmagrad-gpu.tar.xz
echo "gpu-bundle/sigmagrad-gpu.tar.xz: $(du -h gpu-bundle/sigmagrad-gpu.tar.xz | cut -f1)," \
  "with $(ls "$stage/lib" | tr '\n' ' ')"
