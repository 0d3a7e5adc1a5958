#!/usr/bin/env bash
# Runs each libFuzzer target of fuzz/ (IDX reader, .npy read-write-read, checkpoint
# load-save-load) for SECONDS (default 60), starting from the seed corpora in
# fuzz/corpus/<target>/ (copied: the checked-in corpus is not changed). Any crash,
# sanitizer report, timeout or failed round trip stops with the reproducer's path.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bash scripts/build-sanitize.sh >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
out=$(mktemp -d /tmp/sigmagrad_fuzz.XXXXXX)
status=0
for target in idx npy checkpoint; do
  corpus="$out/$target-corpus"
  mkdir -p "$corpus" "$out/$target-findings"
  cp fuzz/corpus/"$target"/* "$corpus"/
  log="$out/$target.log"
  # -rss_limit_mb: a reader that allocates what a file's header claims is a finding;
  # -timeout: so is one that spends seconds on a small input.
  if build-sanitize/fuzz/fuzz_"$target" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -max_len=4096 -print_final_stats=1 -artifact_prefix="$out/$target-findings/" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz_$target: ${seconds} s, $runs inputs, 0 findings (corpus $(ls "$corpus" | wc -l) files)"
  else
    echo "fuzz_$target: FINDING (log $log, reproducer in $out/$target-findings/):"
    grep -E "ERROR|SUMMARY|fuzz check failed|runtime error" "$log" | head -5
    status=1
  fi
done
[[ $status -eq 0 ]] && rm -rf "$out"
exit $status
