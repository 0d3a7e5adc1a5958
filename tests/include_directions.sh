#!/usr/bin/env bash
# The layers of the code include only downwards (docs/autograd.md, section 9):
#   core/ includes nothing above it; kernels/ only core/ (and, in kernels.cpp, the two
#   backends it dispatches to); cpu/ and cuda/ only core/ and kernels/; ops/ never a
#   backend; layers/ never kernels or backends; optim/ never layers/ or ops/; distributed/
#   never a backend (but NCCL's file, which runs on the CUDA stream), optim/, tools/ or io/.
# Prints every include that breaks a rule and fails if there is one.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
forbid() {  # forbid FOLDER PATTERN WHY [EXCEPT_FILE]
  local hits
  hits=$(grep -rnE "#include \"($2)/" "$1" --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh' |
         grep -v "^${4:-/nothing}:" || true)
  if [[ -n $hits ]]; then
    echo "$1/ must not include $2/ ($3):"
    echo "$hits"
    status=1
  fi
}
forbid core "kernels|cpu|cuda|ops|layers|optim|tools|io|distributed" "core/ is the bottom layer"
forbid kernels "cpu|cuda|ops|layers|optim|tools|io|distributed" "only the dispatch point knows the backends" kernels/kernels.cpp
forbid cpu "cuda|ops|layers|optim|tools|io|distributed" "a backend sees core/ and kernels/ only"
forbid cuda "cpu|ops|layers|optim|tools|io|distributed" "a backend sees core/ and kernels/ only"
forbid ops "cpu|cuda|layers|optim|tools|io|distributed" "ops reach kernels through kernels/kernels.h"
forbid layers "kernels|cpu|cuda|optim|tools|io|distributed" "layers know nothing of kernels"
forbid optim "cpu|cuda|ops|layers|tools|io|distributed" "optimisers know parameters, and reach their updates through kernels/"
forbid distributed "cpu|cuda|optim|tools|io" "collectives see tensors, ops and layers; only NCCL needs the CUDA stream" \
  distributed/nccl_communicator.cu
[[ $status == 0 ]] && echo "include directions: every include points downwards"
exit $status
