#!/usr/bin/env bash
# bench/run_gpu.sh is run where a GPU is lent, which is rare and short: a flag renamed in
# gan_step or a test case renamed would waste that time. So its steps are run here on the
# CPU (DEVICE=cpu, one warm-up and one timed iteration, batch 128 in place of 1024, no
# PyTorch), and every line of its summary must carry what a GPU run would: the test cases
# passed, the recorded step equal to the plain loop, and a median for each of our timings.
set -euo pipefail
build=${1:?usage: run_gpu_dry.sh BUILD_DIR}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$(dirname "$0")/.."
BUILD=$build DEVICE=cpu WARMUP=1 LARGE_BATCH=128 PYTHON=none OUT=$out bash bench/run_gpu.sh 1 > "$out/stdout" 2>&1 || {
  cat "$out/stdout" >&2
  exit 1
}
summary=$out/summary.txt
expect() {
  if ! grep -Eq -- "$1" "$summary"; then
    echo "bench/run_gpu.sh's summary lacks a line matching: $1" >&2
    echo "it says:" >&2
    cat "$summary" >&2
    exit 1
  fi
}
number='[0-9]+\.[0-9]+'
expect "^CUDA test cases: passed \(test cases: [0-9]+ \| [0-9]+ passed \| 0 failed"
expect "^mnist_gan --cuda-graph on cpu: byte-identical to the plain loop$"
for setting in "dcgan with SN, batch 64" "dcgan with SN, batch 128" "mlp with SN, batch 64"; do
  expect "^$setting: sigmagrad eager $number ms, --cuda-graph $number ms$"
done
for model in dcgan mlp; do
  expect "^$model SN overhead \(--cuda-graph\): $number vs $number ms = $number+x$"
done
echo "bench/run_gpu.sh ran every step on the CPU; its summary:"
cat "$summary"
