#!/usr/bin/env bash
# mnist_gan --cuda-graph takes the recorded-step path (core/captured_step.h: the inputs
# copied into fixed tensors, the four numbers copied out, nothing read back inside the
# step) and must compute exactly what the plain loop computes: byte-identical metrics.csv
# and checkpoints over 2 epochs, for the DCGAN and the MLP-GAN with SN. On the CPU the
# recorded step is run again each time under the same checks (no graph); with a GPU,
# DEVICE=cuda makes the same comparison against a replayed CUDA graph.
set -euo pipefail
gan=${1:?usage: gan_cuda_graph.sh PATH/TO/mnist_gan}
device=${DEVICE:-cpu}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The program's own count of recorded-step iterations equals the rows logged (one a step),
# so the comparison below is not of the plain loop with itself.
took_recorded_path() {
  local log=$1 rows=$2
  if ! grep -q -- "--cuda-graph: $rows iterations through the recorded step" "$log"; then
    echo "expected $rows iterations through the recorded step, the program said:" >&2
    grep -- "--cuda-graph" "$log" >&2 || echo "(nothing)" >&2
    exit 1
  fi
  # On a GPU the step must have been a replayed graph, not the CPU's checked re-runs.
  if [[ $device != cpu ]] && ! grep -q -- "one CUDA graph, replayed" "$log"; then
    echo "expected the step replayed as one CUDA graph on $device, the program said:" >&2
    grep -- "--cuda-graph" "$log" >&2 || echo "(nothing)" >&2
    exit 1
  fi
}

check() {
  local name=$1
  shift
  "$gan" "$@" --device "$device" --epochs 2 --out "$work/$name-eager" > /dev/null
  "$gan" "$@" --device "$device" --epochs 2 --out "$work/$name-graph" --cuda-graph > "$work/$name-graph.log"
  cmp "$work/$name-eager/metrics.csv" "$work/$name-graph/metrics.csv"
  cmp "$work/$name-eager/checkpoint.ckpt" "$work/$name-graph/checkpoint.ckpt"
  local rows=$(($(wc -l < "$work/$name-eager/metrics.csv") - 1))
  took_recorded_path "$work/$name-graph.log" "$rows"
  echo "$name ($device): --cuda-graph is byte-identical to the plain loop ($rows metric rows)"
}

mlp_args=(--model mlp --sn all --data synthetic:256 --batch 32 --iters 5 --log-every 1 --no-eval --seed 4 --lipschitz-every 0)
check dcgan --model dcgan --sn all --data synthetic:96 --batch 16 --iters 3 --log-every 1 --no-eval --seed 3 --lipschitz-every 0
check mlp "${mlp_args[@]}"

# Resumed: one epoch recorded, then a second from its checkpoint (Adam's step counts and
# SN's vectors loaded before the new recording), equal to the plain loop's two epochs.
"$gan" "${mlp_args[@]}" --device "$device" --epochs 1 --out "$work/mlp-resumed" --cuda-graph > /dev/null
"$gan" "${mlp_args[@]}" --device "$device" --epochs 2 --out "$work/mlp-resumed" --cuda-graph --resume > "$work/mlp-resumed.log"
cmp "$work/mlp-eager/metrics.csv" "$work/mlp-resumed/metrics.csv"
cmp "$work/mlp-eager/checkpoint.ckpt" "$work/mlp-resumed/checkpoint.ckpt"
took_recorded_path "$work/mlp-resumed.log" 5
echo "mlp ($device): --cuda-graph resumed after an epoch is byte-identical to the plain loop's two epochs"
