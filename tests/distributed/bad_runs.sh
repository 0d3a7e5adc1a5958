#!/usr/bin/env bash
# Data-parallel runs that cannot work are refused at the start, on every rank, with a message
# that says what to change:
#   a global --batch that does not divide by the number of ranks (both examples);
#   ranks started with different settings (mpirun's "A : B" form gives each rank its own
#   command line), which would train different models and average their gradients.
set -uo pipefail
examples=${1:?usage: bad_runs.sh BUILD/examples MPIRUN...}
shift
mpirun=("$@")
export SIGMAGRAD_NUM_THREADS=1 SIGMAGRAD_DIST_TIMEOUT=30
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
gan=(--model mlp --data synthetic:64 --iters 1 --epochs 1 --no-eval --out "$work/gan")

refused() {  # refused EXPECTED_TEXT COMMAND...
  local expected=$1 output code
  shift
  output=$(timeout 120 "$@" 2>&1)
  code=$?
  if [[ $code == 0 || $code == 124 ]] || ! grep -qF -- "$expected" <<<"$output"; then
    echo "FAIL: exit code $code, expected a refusal containing: $expected"
    sed 's/^/     | /' <<<"$output" | head -20
    status=1
  else
    echo "ok   refused (exit code $code): $(grep -m1 -F -- "$expected" <<<"$output")"
  fi
}

refused "--batch 33: expected a multiple of the number of ranks (2)" \
  "${mpirun[@]}" -np 2 "$examples/mnist_gan" "${gan[@]}" --batch 33
refused "--batch 5: expected a multiple of the number of ranks (2)" \
  "${mpirun[@]}" -np 2 "$examples/mnist_classifier" --batch 5 --out "$work/classifier"
refused "the ranks disagree on the settings: rank 0 has 'seed=1', rank 1 has 'seed=2'" \
  "${mpirun[@]}" -np 1 "$examples/mnist_gan" "${gan[@]}" --batch 32 --seed 1 : \
  -np 1 "$examples/mnist_gan" "${gan[@]}" --batch 32 --seed 2
exit $status
