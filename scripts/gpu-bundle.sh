#!/usr/bin/env bash
# Packs the three programs bench/run_gpu.sh runs on a lent GPU machine, with the shared
# libraries they load, into gpu-bundle/sigmagrad-gpu.tar.gz (about 18 MB; gpu-bundle/ is
# ignored by git, and the device tool's `carry` takes it along).
#
#   bash scripts/gpu-bundle.sh [--check]
#
# --check (root, util-linux's unshare): then runs the unpacked programs on the CPU with this
# machine's copies of the bundled libraries hidden (bind mounts of an empty file in a
# mount namespace of their own), so that a library the bundle lacks fails here, not there.
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
if ! ldd "${programs[0]}" | grep -q libcudart; then
  echo "gpu-bundle: expected a build with the CUDA backend, got one without (is nvcc installed?)" >&2
  exit 1
fi
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
tar -C "$stage" -cf - bin lib | gzip -9 > gpu-bundle/sigmagrad-gpu.tar.gz.part
mv gpu-bundle/sigmagrad-gpu.tar.gz.part gpu-bundle/sigmagrad-gpu.tar.gz
echo "gpu-bundle/sigmagrad-gpu.tar.gz: $(du -h gpu-bundle/sigmagrad-gpu.tar.gz | cut -f1)," \
  "with $(ls "$stage/lib" | tr '\n' ' ')"

if [[ ${1:-} == --check ]]; then
  unpacked=$(mktemp -d)
  trap 'rm -rf "$stage" "$unpacked"' EXIT
  tar -C "$unpacked" -xzf gpu-bundle/sigmagrad-gpu.tar.gz
  : > "$unpacked/empty"
  unshare -m bash -euo pipefail -c '
    dir=$1
    for library in "$dir"/lib/*; do
      for system_copy in /lib/x86_64-linux-gnu /usr/local/cuda/lib /usr/local/cuda/lib64; do
        [[ -e $system_copy/$(basename "$library") ]] && mount --bind "$dir/empty" "$(readlink -f "$system_copy/$(basename "$library")")"
      done
    done
    if ldd "$dir"/bin/* | grep "not found"; then exit 1; fi
    "$dir/bin/sigmagrad_tests" --test-case="spectral*" | tail -1
    "$dir/bin/gan_step" --model mlp --warmup 1 --iters 2
    "$dir/bin/mnist_gan" --model mlp --data synthetic:64 --batch 32 --epochs 1 --no-eval --lipschitz-every 0 \
      --out "$dir/out" | tail -1
  ' check "$unpacked"
  echo "gpu-bundle --check: the unpacked programs ran with this machine's copies of their libraries hidden"
fi
