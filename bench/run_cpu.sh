#!/usr/bin/env bash
# CPU comparison with PyTorch in one run (docs/reference_models.md): each model with
# SN on D, sigmagrad at 1 and 2 threads, PyTorch (Debian's python3-torch) in its thread
# mixes, medians and ratios; then the per-op micro-benchmarks. Needs build/ (scripts/build.sh) and, for the peer,
# /usr/bin/python3 with torch (apt-get install python3-torch).
#
#   bash bench/run_cpu.sh [ITERS] [full|generator]
#
# The second argument is the G step's backward, the same for both frameworks: full
# (loss_g.backward(), the default: D's weight gradients computed and unused) or generator
# (into G's parameters only, as examples/mnist_gan does; PyTorch's backward(inputs=...)).
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-50}
g_backward=${2:-full}
[[ $g_backward == full || $g_backward == generator ]] || { echo "run_cpu.sh: the G step's backward is full or generator, got '$g_backward'" >&2; exit 2; }
# glibc's malloc gives large freed blocks back to the kernel (munmap, trim), so a program
# that frees and reallocates big tensors every op takes page faults every op; on this
# virtual machine they cost PyTorch 2.2-3.3x on 1 thread (bench/README.md, "The peer's allocator").
# Both programs run with malloc told to keep freed memory, which gives the peer its best
# figure (sigmagrad's own CPU allocator keeps its blocks anyway: core/storage.cpp).
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736
median() { sed -n 's/^sigmagrad.*median \([0-9.]*\) .*/\1/p; s/^pytorch.*median \([0-9.]*\) .*/\1/p'; }
# Which OpenBLAS kernels run (both frameworks' GEMMs go to Debian's OpenBLAS here; PyTorch's
# convolutions to its oneDNN): OPENBLAS_CORETYPE, when set, overrides OpenBLAS's detection.
core=$(OPENBLAS_VERBOSE=2 build/bench/gan_step --model mlp --iters 1 --warmup 0 2>&1 | sed -n 's/^Core: //p')
echo "OpenBLAS core: ${core:-unknown} (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}); CPU: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
for model in dcgan mlp; do
  echo "== $model, SN on every D layer, batch 64, $iters timed iterations, G step's backward: $g_backward =="
  # --gemm-bound also times the iteration's GEMMs alone (bench/README.md)
  SIGMAGRAD_NUM_THREADS=1 build/bench/gan_step --model $model --iters "$iters" --g-backward "$g_backward" --gemm-bound > /tmp/sg_ours1.$$
  SIGMAGRAD_NUM_THREADS=2 build/bench/gan_step --model $model --iters "$iters" --g-backward "$g_backward" --gemm-bound > /tmp/sg_ours2.$$
  ours1=$(median < /tmp/sg_ours1.$$)
  ours2=$(median < /tmp/sg_ours2.$$)
  echo "sigmagrad: 1 thread $ours1 ms, 2 threads $ours2 ms"
  sed -n 's/^  its GEMMs alone/  1 thread: its GEMMs alone/p' /tmp/sg_ours1.$$
  sed -n 's/^  its GEMMs alone/  2 threads: its GEMMs alone/p' /tmp/sg_ours2.$$
  rm -f /tmp/sg_ours1.$$ /tmp/sg_ours2.$$
  if /usr/bin/python3 -c "import torch" 2> /dev/null; then
    best=""
    for mix in "1 1" "2 1" "1 2" "2 2"; do
      set -- $mix
      t=$(OPENBLAS_NUM_THREADS=$2 /usr/bin/python3 bench/gan_step_torch.py --model $model --threads "$1" --iters "$iters" --g-backward "$g_backward" | median)
      echo "pytorch: $1 torch + $2 OpenBLAS threads $t ms"
      [[ $1 == 1 && $2 == 1 ]] && one=$t
      if [[ -z $best ]] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    done
    awk -v a="$ours1" -v b="$one" 'BEGIN{printf "1 thread: ours / pytorch = %.2f\n", a / b}'
    awk -v a="$ours2" -v b="$best" 'BEGIN{printf "2 cores: ours / pytorch best = %.2f\n", a / b}'
  else
    echo "pytorch not importable: no peer figures"
  fi
done
echo "== per-op micro-benchmarks (median microseconds) =="
build/bench/op_bench --reps 30
