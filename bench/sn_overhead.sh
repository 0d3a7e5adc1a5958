#!/usr/bin/env bash
# The cost of spectral normalisation in one GAN iteration on the CPU: build/bench/gan_step
# with SN on every D layer (--sn 1) and without (--sn 0), alternated in one session for
# each model and thread count, ROUNDS rounds of ITERS timed iterations each; prints every
# round's medians, then the median over the rounds and the overhead sn1 / sn0 - 1.
# Extra gan_step binaries (e.g. one built from an older commit) are timed in the same
# alternation, so that before and after come from one session.
#
#   bash bench/sn_overhead.sh [ROUNDS] [ITERS] [MODELS] [GAN_STEP...]
#   bash bench/sn_overhead.sh 5 50 "mlp dcgan" build/bench/gan_step /tmp/old/gan_step
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
iters=${2:-50}
models=${3:-"mlp dcgan"}
shift $(($# < 3 ? $# : 3))
binaries=("$@")
[[ ${#binaries[@]} -gt 0 ]] || binaries=(build/bench/gan_step)
median_of() { sed -n 's/.*median \([0-9.]*\) .*/\1/p'; }
declare -A times
for round in $(seq "$rounds"); do
  for model in $models; do
    for threads in 1 2; do
      for b in "${!binaries[@]}"; do
        for sn in 1 0; do
          t=$(SIGMAGRAD_NUM_THREADS=$threads "${binaries[$b]}" --model "$model" --sn "$sn" --iters "$iters" | median_of)
          times[$model,$threads,$b,$sn]+="$t "
          echo "round $round: $model threads=$threads ${binaries[$b]} sn=$sn median $t ms"
        done
      done
    done
  done
done
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
echo "== medians over $rounds rounds of $iters timed iterations (ms) =="
for model in $models; do
  for threads in 1 2; do
    for b in "${!binaries[@]}"; do
      with=$(echo "${times[$model,$threads,$b,1]}" | median)
      without=$(echo "${times[$model,$threads,$b,0]}" | median)
      awk -v m="$model" -v t="$threads" -v bin="${binaries[$b]}" -v a="$with" -v z="$without" \
        'BEGIN{printf "%-6s threads=%d %-40s sn=1 %8.3f  sn=0 %8.3f  overhead %+.1f%%\n", m, t, bin, a, z, 100 * (a / z - 1)}'
    done
  done
done
