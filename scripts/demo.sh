#!/usr/bin/env bash
# The main job. Until the MNIST GAN lands, it trains a small MLP on a toy problem and
# prints its loss falling, then shows the autograd tour.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
echo
echo "== toy MLP: learning y = sin(3x) =="
build/examples/toy_mlp
echo
echo "== autograd tour =="
mkdir -p out
build/examples/autograd_tour --dot out/graph.dot
