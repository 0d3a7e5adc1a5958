#!/usr/bin/env bash
# CPU comparison with PyTorch in one run (docs/reference_models.md): each model with
# SN on D, sigmagrad at 1 and 2 threads, PyTorch (Debian's python3-torch) in its thread
# mixes, medians and ratios; then the per-op micro-benchmarks. Needs build/ (scripts/build.sh) and, for the peer,
# /usr/bin/python3 with torch (apt-get install python3-torch).
#
#   bash bench/run_cpu.sh [ITERS]
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-50}
median() { sed -n 's/.*median \([0-9.]*\) .*/\1/p'; }
for model in dcgan mlp; do
  echo "== $model, SN on every D layer, batch 64, $iters timed iterations =="
  ours1=$(SIGMAGRAD_NUM_THREADS=1 build/bench/gan_step --model $model --iters "$iters" | median)
  ours2=$(SIGMAGRAD_NUM_THREADS=2 build/bench/gan_step --model $model --iters "$iters" | median)
  echo "sigmagrad: 1 thread $ours1 ms, 2 threads $ours2 ms"
  if /usr/bin/python3 -c "import torch" 2> /dev/null; then
    best=""
    for mix in "1 1" "2 1" "1 2" "2 2"; do
      set -- $mix
      t=$(OPENBLAS_NUM_THREADS=$2 /usr/bin/python3 bench/gan_step_torch.py --model $model --threads "$1" --iters "$iters" | median)
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
