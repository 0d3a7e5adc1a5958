#!/usr/bin/env bash
# The GAN example on 2 ranks (mpirun -np 2) computes what it computes as one process with
# the same global batch: over 20 iterations of the MLP-GAN and the DCGAN (with SN on D and
# synchronised batch norm in G), in float32, every logged number of metrics.csv (losses,
# mean logits, each layer's sigma) agrees within rounding. "Within rounding": the ranks add
# the batch in another order, Adam's first steps divide by the gradient's size, and a GAN
# amplifies small differences (the hinge's kinks flip), so float32 rounding (1e-7) grows:
# to 1e-4 in the first iterations, to a few 1e-3 by iteration 20 on the DCGAN. The check
# is 1e-3 relative (or absolute, near zero) for the first 5 iterations, 1e-2 after.
# A missing gradient average or unsynchronised batch norm is caught harder still: the
# replicas differ and the run stops at its checkpoint (verify_replicas), which fails here.
# Last, a 2-rank run stopped after epoch 1 and resumed (every rank reads rank 0's
# checkpoint) ends byte-identical to a 2-rank run straight through.
set -euo pipefail
gan=${1:?usage: gan_parity.sh PATH/TO/mnist_gan MPIRUN...}
shift
mpirun=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SIGMAGRAD_NUM_THREADS=1

compare() {  # compare NAME FLAGS...
  local name=$1
  shift
  "$gan" "$@" --out "$work/$name-1" > "$work/$name-1.log"
  "${mpirun[@]}" -np 2 "$gan" "$@" --out "$work/$name-2" > "$work/$name-2.log"
  [[ ! -e $work/$name-2/metrics.csv.rank1 ]]
  awk -F, -v name="$name" '
    NR == FNR { one[FNR] = $0; rows = FNR; next }
    FNR == 1 { if ($0 != one[1]) { print name ": headers differ"; bad = 1 }; next }
    {
      n = split(one[FNR], a, ",")
      for (i = 3; i <= n; ++i) {
        d = a[i] - $i; if (d < 0) d = -d
        s = a[i] < 0 ? -a[i] : a[i]; if (s < 1) s = 1
        if (d / s > worst) worst = d / s
        if (d / s > (FNR <= 6 ? 1e-3 : 1e-2)) { printf "%s: row %d column %d: 1 process %s, 2 ranks %s\n", name, FNR, i, a[i], $i; bad = 1 }
      }
      compared = FNR - 1
    }
    END {
      if (compared != rows - 1 || compared < 20) { print name ": expected 20 rows in both, got " rows - 1 " and " compared; bad = 1 }
      printf "%s: 2 ranks vs 1 process, %d iterations: largest relative difference %.2g\n", name, compared, worst
      exit bad
    }' "$work/$name-1/metrics.csv" "$work/$name-2/metrics.csv"
}

common=(--iters 20 --epochs 1 --log-every 1 --no-eval --lipschitz-every 0 --seed 5)
compare mlp --model mlp --data synthetic:640 --batch 32 "${common[@]}"
compare dcgan --model dcgan --data synthetic:320 --batch 16 "${common[@]}"

straight=(--model mlp --data synthetic:256 --batch 32 --iters 4 --log-every 1 --no-eval --seed 4)
"${mpirun[@]}" -np 2 "$gan" "${straight[@]}" --epochs 2 --out "$work/straight" > /dev/null
"${mpirun[@]}" -np 2 "$gan" "${straight[@]}" --epochs 1 --out "$work/resumed" > /dev/null
"${mpirun[@]}" -np 2 "$gan" "${straight[@]}" --epochs 2 --out "$work/resumed" --resume > /dev/null
cmp "$work/straight/metrics.csv" "$work/resumed/metrics.csv"
cmp "$work/straight/checkpoint.ckpt" "$work/resumed/checkpoint.ckpt"
echo "resume: 2 ranks stopped after epoch 1 and resumed end byte-identical to 2 ranks straight through"
