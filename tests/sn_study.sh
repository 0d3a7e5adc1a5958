#!/usr/bin/env bash
# The SN study tool on synthetic data with a tiny grid: a row for every cell, a second
# start skips the finished cells, a run that diverges is recorded as diverged and the
# study goes on, and the report is written.
set -euo pipefail
study=${1:?usage: sn_study.sh PATH/TO/sn_study}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--model mlp --iters 2 --batch 32 --data synthetic:128 --eval-samples 100
        --classifier "$work/classifier.ckpt" --jobs 2)

"$study" "${common[@]}" --epochs 1 --settings C,D --sn none,balance --seeds 1 --out "$work/a" > "$work/first.log"
rows=$(($(wc -l < "$work/a/results.csv") - 1))
[[ $rows -eq 4 ]] || { echo "expected 4 result rows, got $rows"; cat "$work/a/results.csv"; exit 1; }
for cell in "C,none,1" "C,balance,1" "D,none,1" "D,balance,1"; do
  grep -q "^$cell,1,no," "$work/a/results.csv" || { echo "no finished row for $cell"; exit 1; }
done

# Resume: the same grid plus seed 2 runs only the 4 new cells.
"$study" "${common[@]}" --epochs 1 --settings C,D --sn none,balance --seeds 1,2 --out "$work/a" > "$work/second.log"
grep -q "8 runs in the grid, 4 already in" "$work/second.log" || { cat "$work/second.log"; exit 1; }
[[ $(($(wc -l < "$work/a/results.csv") - 1)) -eq 8 ]]
grep -q "^| balance | " "$work/a/results.md"

# A learning rate of 1e30 makes the losses NaN: recorded as diverged, the study goes on.
"$study" "${common[@]}" --epochs 1 --settings D --sn none,all --seeds 1 --lr-scale 1e33 --out "$work/b" > "$work/diverge.log"
[[ $(grep -c ",yes,nan," "$work/b/results.csv") -ge 1 ]] || { cat "$work/b/results.csv"; exit 1; }
grep -q "diverged" "$work/b/results.md"

# Another --epochs into the same directory would mix rows: refused.
if "$study" "${common[@]}" --epochs 2 --settings C --sn none --seeds 1 --out "$work/a" > "$work/mismatch.log" 2>&1; then
  echo "a study with other run settings in the same directory was not refused"; exit 1
fi
grep -q "holds a study with other run settings" "$work/mismatch.log"

# --no-eval: a smoke run of the grid without scores.
"$study" "${common[@]}" --epochs 1 --settings C --sn all --seeds 1 --no-eval --out "$work/c" > /dev/null
grep -q "^C,all,1,1,no,nan," "$work/c/results.csv"

# The report alone, from the finished study.
rm "$work/a/results.md"
"$study" --report "$work/a" > /dev/null
[[ -s $work/a/results.md ]]
echo "sn_study: rows for every cell, resume, divergence recorded, report written"
