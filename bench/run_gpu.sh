#!/usr/bin/env bash
# Everything issue 16 needs a GPU for, in one run (meant to take 5-7 of the device tool's 10
# minutes a call on one H200), logged to ${OUT:-out/gpu}/gpu_check.log, with the figures
# also in summary.txt beside it:
#   1. a preflight that stops in seconds when the programs cannot start (a library missing)
#      or no GPU answers;
#   2. the CUDA test cases (tests/test_cuda.cpp: the fused SN kernels against the textbook
#      computation, the deferred sigma check, a step replayed as a graph against eager);
#   3. mnist_gan --cuda-graph against the plain loop on the GPU (tests/gan_cuda_graph.sh);
#   4. one GAN iteration timed, ours eager and --cuda-graph, PyTorch eager and with its own
#      CUDA graph, DCGAN with SN at batch 64 and 1024, and the MLP-GAN; then SN's overhead;
#   5. compute-sanitizer memcheck over the new kernels' test cases (last: the slowest, and
#      the one most likely to be refused by the machine).
# Each step has a time limit, so one that hangs costs its limit, not the whole call.
#
#   bash bench/run_gpu.sh [ITERS]
#
# On a lent device machine (no package registry, no Debian libraries): first, here,
#   bash scripts/gpu-bundle.sh
# which builds the three programs and packs them with their libraries into gpu-bundle/;
# then one device call with carry ["gpu-bundle"] and the command
#   bash bench/run_gpu.sh 200
# Without a bundle the script uses build/ (a machine of one's own with a GPU), building it
# with scripts/build.sh when it is missing; BUILD=DIR uses DIR's programs, bundle or not. `DEVICE=cpu WARMUP=1 PYTHON=/usr/bin/python3 bash bench/run_gpu.sh
# 2` runs the same steps on the CPU, a check of the script itself (PyTorch's graphs: n/a).
set -uo pipefail
cd "$(dirname "$0")/.."
iters=${1:-200}
device=${DEVICE:-cuda}
warmup=${WARMUP:-20}
large_batch=${LARGE_BATCH:-1024}  # the compute-bound setting (tests/run_gpu_dry.sh: smaller)
python=${PYTHON:-python3}  # the one with PyTorch (on the device machine, the plain python3)
out=${OUT:-out/gpu}
mkdir -p "$out"
log="$out/gpu_check.log"
summary="$out/summary.txt"
: > "$log"
: > "$summary"
say() { echo "$*" | tee -a "$log"; }
# step LIMIT COMMAND...: runs COMMAND for at most LIMIT seconds, logged; returns its status.
step() {
  local limit=$1
  shift
  say "\$ $* (limit ${limit}s, $(date +%T))"
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$log"
  local status=${PIPESTATUS[0]}
  say "(exit $status$([[ $status == 124 ]] && echo ": stopped at its limit"))"
  return "$status"
}
median() { sed -n 's/.*median \([0-9.]*\) .*/\1/p' | tail -1; }
ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf f, a / b }'; }
note() { echo "$*" | tee -a "$log" >> "$summary"; }

# 1. Preflight.
if [[ -z ${BUILD:-} && -f gpu-bundle/sigmagrad-gpu.tar.gz ]]; then
  bundle=$(mktemp -d)
  trap 'rm -rf "$bundle"' EXIT
  tar -C "$bundle" -xzf gpu-bundle/sigmagrad-gpu.tar.gz
  tests_program=$bundle/bin/sigmagrad_tests gan_program=$bundle/bin/mnist_gan step_program=$bundle/bin/gan_step
else
  build=${BUILD:-build}
  [[ -n ${BUILD:-} || -x build/tests/sigmagrad_tests ]] || bash scripts/build.sh
  tests_program=$build/tests/sigmagrad_tests gan_program=$build/examples/mnist_gan step_program=$build/bench/gan_step
fi
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$log" >> "$summary"
else
  note "nvidia-smi: not on the PATH"
fi
# cuBLAS is opened at run time (cuda/cublas_library.cu) under the major version of the CUDA
# runtime the programs link; where the loader's cache lacks it, its folder (the toolkit's,
# or PyTorch's pip package) goes on LD_LIBRARY_PATH for our programs only (`ours`), not for
# PyTorch, which loads its own copies.
ours=()
major=$(ldd "$tests_program" | sed -n 's/.*libcudart\.so\.\([0-9]*\) .*/\1/p' | head -1)
if ! ldconfig -p 2> /dev/null | grep -q "libcublas\.so\.$major "; then
  found=$(find /usr/local /opt /usr/lib -name "libcublas.so.$major" 2> /dev/null | head -1)
  [[ -n $found ]] && ours=(env "LD_LIBRARY_PATH=$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
  say "libcublas.so.$major: ${found:-not found}"
fi
missing=$(ldd "$tests_program" "$gan_program" "$step_program" | grep "not found" | sort -u)
if [[ -n $missing ]]; then
  note "preflight: the programs cannot start, libraries missing:"
  note "$missing"
  exit 1
fi
if ! step 60 "${ours[@]}" "$tests_program" --test-case="cuda: cuBLAS opens on first use*"; then
  note "preflight: cuBLAS did not open; see gpu_check.log"
  exit 1
fi
if ! step 60 "${ours[@]}" "$step_program" --device "$device" --model mlp --iters 1 --warmup 1; then
  note "preflight: no GPU answered; see gpu_check.log"
  exit 1
fi

# 2. The CUDA test cases, and 3. the recorded step against the plain loop.
step 240 "${ours[@]}" "$tests_program" --test-case="cuda:*" && result=passed || result=FAILED
note "CUDA test cases: $result ($(grep "test cases:" "$log" | tail -1 | sed 's/^\[doctest\] //'))"
DEVICE=$device step 240 "${ours[@]}" bash tests/gan_cuda_graph.sh "$gan_program" &&
  note "mnist_gan --cuda-graph on $device: byte-identical to the plain loop" ||
  note "mnist_gan --cuda-graph on $device: FAILED"

# 4. Timings.
torch_ok=0
$python -c "import torch; assert '$device' == 'cpu' or torch.cuda.is_available()" 2> /dev/null && torch_ok=1
[[ $torch_ok == 1 ]] || note "PyTorch on $device: not available, so no peer figures"
for setting in "dcgan 64" "dcgan $large_batch" "mlp 64"; do
  set -- $setting
  model=$1 batch=$2
  args=(--device "$device" --model "$model" --batch "$batch" --warmup "$warmup" --iters "$iters")
  eager=$(step 150 "${ours[@]}" "$step_program" "${args[@]}" | median)
  graph=$(step 150 "${ours[@]}" "$step_program" "${args[@]}" --cuda-graph | median)
  line="$model with SN, batch $batch: sigmagrad eager ${eager:-n/a} ms, --cuda-graph ${graph:-n/a} ms"
  if [[ $torch_ok == 1 ]]; then
    te=$(step 150 "$python" bench/gan_step_torch.py "${args[@]}" | median)
    tg=$(step 150 "$python" bench/gan_step_torch.py "${args[@]}" --cuda-graph | median)
    line="$line; PyTorch eager ${te:-n/a} ms, CUDA graph ${tg:-n/a} ms; ours graph / torch eager ="
    line="$line $(ratio "$graph" "$te" %.2f), / torch graph = $(ratio "$graph" "$tg" %.2f)"
  fi
  note "$line"
done
for model in dcgan mlp; do  # SN's share of the iteration, recorded as a graph
  args=(--device "$device" --model "$model" --warmup "$warmup" --iters "$iters" --cuda-graph)
  with=$(step 150 "${ours[@]}" "$step_program" "${args[@]}" --sn 1 | median)
  without=$(step 150 "${ours[@]}" "$step_program" "${args[@]}" --sn 0 | median)
  note "$model SN overhead (--cuda-graph): ${with:-n/a} vs ${without:-n/a} ms = $(ratio "$with" "$without" %.3f)x"
done

# 5. compute-sanitizer. Judged by its error summary (the exit status also counts errors
# inside the libraries); no leak check, since the process never tears down its context.
if command -v compute-sanitizer > /dev/null; then
  step 240 "${ours[@]}" compute-sanitizer --tool memcheck "$tests_program" \
    --test-case="cuda: the fused*,cuda: a zero sigma*,cuda: a training step replayed*,cuda: a learning rate*,cuda: a CapturedStep*,cuda: a DCGAN*"
  note "compute-sanitizer memcheck: $(grep "ERROR SUMMARY" "$log" | tail -1)"
else
  note "compute-sanitizer: not on the PATH"
fi
