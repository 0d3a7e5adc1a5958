#!/usr/bin/env bash
# A rank that fails never leaves the others hanging: each scenario of fault_program ends
# the whole job with an error that says what happened, well within the time limit.
#   dies         mpirun notices that rank 1 was killed and ends rank 0, naming rank 1
#   stops        rank 1 is alive but silent: rank 0's watchdog gives up after
#                SIGMAGRAD_DIST_TIMEOUT (3 s here), saying where it waited
#   never-joins  rank 1 never starts MPI: rank 0's watchdog gives up in MPI_Init
set -uo pipefail
program=${1:?usage: faults.sh PATH/TO/fault_program MPIRUN...}
shift
mpirun=("$@")
export SIGMAGRAD_DIST_TIMEOUT=3
status=0

scenario() {  # scenario MODE EXPECTED_TEXT
  local start=$SECONDS output code
  output=$(timeout 60 "${mpirun[@]}" -np 2 "$program" "$1" 2>&1)
  code=$?
  local took=$((SECONDS - start))
  if [[ $code == 0 || $code == 124 ]] || ! grep -q "$2" <<<"$output" || ((took > 30)); then
    echo "FAIL $1: exit code $code after $took s (0: none, 124: hung until the 60 s limit); expected an error"
    echo "     containing '$2' within 30 s. Output:"
    sed 's/^/     | /' <<<"$output" | head -30
    status=1
  else
    echo "ok   $1: the job ended with exit code $code after $took s: $(grep -m1 "$2" <<<"$output" | sed 's/^ *//')"
  fi
}

scenario dies "exited on signal 9"
scenario stops "rank 0 waited 3 s in an all-reduce of 1000 float32 values for the other ranks"
scenario never-joins "rank 0 waited 3 s in MPI_Init"
exit $status
