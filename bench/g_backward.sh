#!/usr/bin/env bash
# What backing the G step into G's parameters only saves (Tensor::backward_into; PyTorch's
# backward(inputs=...)), for both frameworks: build/bench/gan_step and
# bench/gan_step_torch.py with --g-backward full and generator, alternated in one session,
# ROUNDS rounds of ITERS timed iterations (odd rounds full first, even rounds generator
# first), SN on every D layer. Ours at 1 and 2 threads;
# PyTorch with 1 torch + 1 OpenBLAS thread and in the 2-core mix given (default 2 + 1, its
# best for the DCGAN; 1 + 2 for the MLP-GAN). Prints every round's medians, then the median
# over the rounds with each framework's generator / full ratio and ours / PyTorch in each mode.
#
#   bash bench/g_backward.sh [ROUNDS] [ITERS] [MODEL] [TORCH_THREADS OPENBLAS_THREADS]
#   bash bench/g_backward.sh 4 30 dcgan 2 1
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4}
iters=${2:-30}
model=${3:-dcgan}
mix_torch=${4:-2}
mix_blas=${5:-1}
[[ "$mix_torch $mix_blas" != "1 1" ]] || { echo "g_backward.sh: the 2-core mix must differ from 1 + 1" >&2; exit 2; }
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736  # as bench/run_cpu.sh
median_of() { sed -n 's/^\(sigmagrad\|pytorch\) .*median \([0-9.]*\) .*/\2/p'; }
declare -A times
for round in $(seq "$rounds"); do
  modes="full generator"
  (( round % 2 )) || modes="generator full"  # alternate which goes first
  for mode in $modes; do
    for threads in 1 2; do
      t=$(SIGMAGRAD_NUM_THREADS=$threads build/bench/gan_step --model "$model" --iters "$iters" --g-backward $mode | median_of)
      times[ours,$threads,$mode]+="$t "
      echo "round $round: sigmagrad $model threads=$threads g-backward=$mode median $t ms"
    done
    for mix in "1 1" "$mix_torch $mix_blas"; do
      set -- $mix
      t=$(OPENBLAS_NUM_THREADS=$2 /usr/bin/python3 bench/gan_step_torch.py --model "$model" --threads "$1" \
            --iters "$iters" --g-backward $mode | median_of)
      key=$([[ $1 == 1 && $2 == 1 ]] && echo 1 || echo 2)
      times[pytorch,$key,$mode]+="$t "
      echo "round $round: pytorch $model $1 torch + $2 OpenBLAS threads g-backward=$mode median $t ms"
    done
  done
done
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
echo "== $model: medians over $rounds rounds of $iters timed iterations (ms) =="
cores_label() { [[ $1 == 1 ]] && echo "1 core" || echo "$1 cores"; }
# compare LABEL KEY_A KEY_B: the two keys' medians over the rounds and their ratio
compare() {
  local a b
  a=$(echo "${times[$2]}" | median)
  b=$(echo "${times[$3]}" | median)
  [[ -n $a && -n $b ]] || { echo "$1: a run printed no median" >&2; return 1; }
  echo "$1: $a / $b ms = $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')"
}
for cores in 1 2; do
  for who in ours pytorch; do
    compare "$who, $(cores_label $cores), generator / full" "$who,$cores,generator" "$who,$cores,full"
  done
  for mode in full generator; do
    compare "g-backward=$mode, $(cores_label $cores), ours / pytorch" "ours,$cores,$mode" "pytorch,$cores,$mode"
  done
done
