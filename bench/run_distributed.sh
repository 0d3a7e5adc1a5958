#!/usr/bin/env bash
# Data parallelism on this machine: one GAN iteration (SN on every D layer, global batch 64)
# as 2 ranks x 1 thread (mpirun, each rank bound to a core) against 1 process x 2 threads
# and 1 process x 1 thread, alternated, in one run. Rank 0 also prints the collectives per
# iteration: calls, megabytes all-reduced, and the time spent inside them.
#   bash bench/run_distributed.sh [ITERS] [ROUNDS]      (default 50 iterations, 2 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-50}
rounds=${2:-2}
step=build/bench/gan_step
[[ -x $step ]] || bash scripts/build.sh
mpirun=(mpirun --allow-run-as-root --bind-to core)
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(date -u +%F)"
for round in $(seq "$rounds"); do
  for model in mlp dcgan; do
    echo "## round $round, $model"
    SIGMAGRAD_NUM_THREADS=1 "$step" --model "$model" --iters "$iters"
    SIGMAGRAD_NUM_THREADS=2 "$step" --model "$model" --iters "$iters"
    SIGMAGRAD_NUM_THREADS=1 "${mpirun[@]}" -np 2 "$step" --model "$model" --iters "$iters"
  done
done
