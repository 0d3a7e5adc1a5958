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

check() {
  local name=$1
  shift
  "$gan" "$@" --device "$device" --epochs 2 --out "$work/$name-eager" > /dev/null
  "$gan" "$@" --device "$device" --epochs 2 --out "$work/$name-graph" --cuda-graph > /dev/null
  cmp "$work/$name-eager/metrics.csv" "$work/$name-graph/metrics.csv"
  cmp "$work/$name-eager/checkpoint.ckpt" "$work/$name-graph/checkpoint.ckpt"
  echo "$name ($device): --cuda-graph is byte-identical to the plain loop ($(($(wc -l < "$work/$name-eager/metrics.csv") - 1)) metric rows)"
}

check dcgan --model dcgan --sn all --data synthetic:96 --batch 16 --iters 3 --log-every 1 --no-eval --seed 3 --lipschitz-every 0
check mlp --model mlp --sn all --data synthetic:256 --batch 32 --iters 5 --log-every 1 --no-eval --seed 4 --lipschitz-every 0
