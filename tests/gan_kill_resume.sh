#!/usr/bin/env bash
# kill -9 at any moment of mnist_gan training loses at most the work since the last
# checkpoint, and resuming continues to the same result as an uninterrupted run:
#   1. train straight through, as the reference;
#   2. start the same run, SIGKILL it after a pseudo-random delay, resume with --resume
#      (or start afresh while no checkpoint exists yet), again and again;
#   3. each resumed run must start from the last epoch the killed run reported finished
#      (its "epoch N:" line is flushed only after checkpoint N is on disk), and the
#      final metrics.csv and checkpoint.ckpt must equal the straight run's byte for byte.
# Runs the real example on synthetic data (no MNIST needed).
set -euo pipefail
gan=${1:?usage: gan_kill_resume.sh PATH/TO/mnist_gan [KILLS]}
kills=${2:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(--model dcgan --sn adaptive --sn-threshold 0.5 --data synthetic:64 --batch 16 --iters 2 --log-every 1
      --no-eval --seed 7 --epochs 6)

start=$(date +%s.%N)
"$gan" "${args[@]}" --out "$work/straight" > /dev/null
run_seconds=$(echo "$(date +%s.%N) - $start" | bc)

RANDOM=2026  # the same kill times on every run of this test
landed=0 resumes=0
for ((k = 1; k <= kills; ++k)); do
  resume=()
  [[ -f $work/killed/checkpoint.ckpt ]] && resume=(--resume)
  log="$work/attempt-$k.log"
  "$gan" "${args[@]}" --out "$work/killed" "${resume[@]}" > "$log" 2>&1 &
  pid=$!
  # Somewhere in the (remaining) run: 0 .. 0.5x the straight run's wall time.
  permille=$((RANDOM % 500))
  sleep "$(echo "scale=3; $run_seconds * $permille / 1000" | bc)"
  kill -9 "$pid" 2> /dev/null || true
  status=0
  wait "$pid" 2> /dev/null || status=$?
  ((status == 137)) && landed=$((landed + 1))  # 128 + SIGKILL: it was still running
  if ((${#resume[@]})); then
    resumes=$((resumes + 1))
    # The run resumed from the checkpoint the previous attempt last reported.
    last_done=$(grep -o '^epoch [0-9]*:' "$work/attempt-$((k - 1)).log" | tail -1 | grep -o '[0-9]*' || echo 0)
    from=$(grep -o 'resumed from .* at epoch [0-9]*' "$log" | grep -o '[0-9]*$' || echo "")
    if [[ -n $from && $from -lt $last_done ]]; then
      echo "attempt $k resumed at epoch $from, but epoch $last_done had been reported finished: work was lost"
      exit 1
    fi
  fi
done

resume=()
[[ -f $work/killed/checkpoint.ckpt ]] && resume=(--resume)
"$gan" "${args[@]}" --out "$work/killed" "${resume[@]}" > "$work/final.log"
cmp "$work/straight/metrics.csv" "$work/killed/metrics.csv"
cmp "$work/straight/checkpoint.ckpt" "$work/killed/checkpoint.ckpt"
cmp "$work/straight/lipschitz.csv" "$work/killed/lipschitz.csv"
echo "$landed of $kills SIGKILLs landed mid-run ($resumes resumes): final metrics.csv, lipschitz.csv and checkpoint byte-identical"
