#!/usr/bin/env bash
# A GAN run resumed from a checkpoint continues exactly: training 2 epochs straight
# and training 1 epoch, then --resume to 2, give byte-identical metrics.csv and
# checkpoints (and lipschitz.csv). Runs the real example on synthetic data (no MNIST needed), for the
# DCGAN with an adaptive SN policy (BN statistics, SN vectors, policy state, Adam
# state, both RNGs) and for the MLP-GAN.
set -euo pipefail
gan=${1:?usage: gan_resume.sh PATH/TO/mnist_gan}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

check() {
  local name=$1
  shift
  "$gan" "$@" --epochs 2 --out "$work/$name-straight" > /dev/null
  "$gan" "$@" --epochs 1 --out "$work/$name-resumed" > /dev/null
  "$gan" "$@" --epochs 2 --out "$work/$name-resumed" --resume > /dev/null
  cmp "$work/$name-straight/metrics.csv" "$work/$name-resumed/metrics.csv"
  cmp "$work/$name-straight/checkpoint.ckpt" "$work/$name-resumed/checkpoint.ckpt"
  cmp "$work/$name-straight/lipschitz.csv" "$work/$name-resumed/lipschitz.csv"
  echo "$name: resumed run is byte-identical ($(($(wc -l < "$work/$name-straight/metrics.csv") - 1)) metric rows)"
}

check dcgan --model dcgan --sn adaptive --sn-threshold 0.5 --data synthetic:96 --batch 16 --iters 3 --log-every 1 --no-eval --seed 3
check mlp --model mlp --sn all --data synthetic:256 --batch 32 --iters 5 --log-every 1 --no-eval --seed 4
