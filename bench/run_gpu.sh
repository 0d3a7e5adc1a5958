#!/usr/bin/env bash
# Everything issue 16 needs a GPU for, in one run (meant to fit in 10 minutes on one H200), logged
# to ${OUT:-out/gpu}/gpu_check.log:
#   1. build with CUDA (scripts/build.sh), unless build/ is already there;
#   2. the CUDA test cases (tests/test_cuda.cpp: the fused SN kernels against the textbook
#      computation, the deferred sigma check, a step replayed as a graph against eager);
#   3. mnist_gan --cuda-graph against the plain loop on the GPU (tests/gan_cuda_graph.sh);
#   4. compute-sanitizer memcheck over the CUDA cases;
#   5. one GAN iteration timed, ours eager and --cuda-graph, PyTorch eager and with its own
#      CUDA graph, DCGAN with SN at batch 64 and 1024, and the MLP-GAN; then SN's overhead.
#
#   bash bench/run_gpu.sh [ITERS]
#
# A lent device machine has no package registry: build here with scripts/build.sh and
# carry the three binaries it uses (the device tool's carry, about 18 MB):
#   build/tests/sigmagrad_tests, build/examples/mnist_gan, build/bench/gan_step
# and run `OUT=$OUT bash bench/run_gpu.sh 200` there (the build step is skipped when
# they are present).
set -uo pipefail
cd "$(dirname "$0")/.."
iters=${1:-200}
out=${OUT:-out/gpu}
mkdir -p "$out"
log="$out/gpu_check.log"
run() { echo "\$ $*" | tee -a "$log"; "$@" 2>&1 | tee -a "$log"; echo "(exit ${PIPESTATUS[0]})" | tee -a "$log"; }
median() { sed -n 's/.*median \([0-9.]*\) .*/\1/p' | tail -1; }
: > "$log"
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || echo "nvidia-smi: not found"; } >> "$log" 2>&1
[[ -x build/tests/sigmagrad_tests ]] || run bash scripts/build.sh
run build/tests/sigmagrad_tests --test-case="cuda:*"
DEVICE=cuda run bash tests/gan_cuda_graph.sh build/examples/mnist_gan
if command -v compute-sanitizer > /dev/null; then
  run compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 build/tests/sigmagrad_tests \
    --test-case="cuda: the fused*,cuda: a zero sigma*,cuda: a training step replayed*,cuda: a learning rate*,cuda: a CapturedStep*,cuda: a DCGAN*"
fi
torch_ok=0
/usr/bin/env python3 -c "import torch; assert torch.cuda.is_available()" 2> /dev/null && torch_ok=1
for setting in "dcgan 64" "dcgan 1024" "mlp 64"; do
  set -- $setting
  model=$1 batch=$2
  ours=$(build/bench/gan_step --device cuda --model "$model" --batch "$batch" --iters "$iters" 2>&1 | tee -a "$log" | median)
  graph=$(build/bench/gan_step --device cuda --model "$model" --batch "$batch" --iters "$iters" --cuda-graph 2>&1 | tee -a "$log" | median)
  line="$model batch $batch: sigmagrad eager $ours ms, --cuda-graph $graph ms"
  if [[ $torch_ok == 1 ]]; then
    te=$(python3 bench/gan_step_torch.py --device cuda --model "$model" --batch "$batch" --iters "$iters" 2>&1 | tee -a "$log" | median)
    tg=$(python3 bench/gan_step_torch.py --device cuda --model "$model" --batch "$batch" --iters "$iters" --cuda-graph 2>&1 | tee -a "$log" | median)
    line="$line; PyTorch eager $te ms, CUDA graph $tg ms; ours graph / torch eager = $(awk -v a="$graph" -v b="$te" 'BEGIN{printf "%.2f", a/b}'), / torch graph = $(awk -v a="$graph" -v b="$tg" 'BEGIN{printf "%.2f", a/b}')"
  fi
  echo "$line" | tee -a "$log"
done
for model in dcgan mlp; do  # SN's share of the iteration
  with=$(build/bench/gan_step --device cuda --model $model --sn 1 --iters "$iters" --cuda-graph | median)
  without=$(build/bench/gan_step --device cuda --model $model --sn 0 --iters "$iters" --cuda-graph | median)
  echo "$model SN overhead (--cuda-graph): $with vs $without ms = $(awk -v a="$with" -v b="$without" 'BEGIN{printf "%+.1f%%", (a/b-1)*100}')" | tee -a "$log"
done
