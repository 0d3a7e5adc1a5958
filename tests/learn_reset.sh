#!/usr/bin/env bash
# scripts/learn.sh reset and solution, on a scratch git repository holding a copy of the
# script and the lessons (never this tree): reset blanks every exercise of every lesson
# into its stub and nothing else, a second reset says it is already blank, a reset
# refuses a file with uncommitted changes unless forced, and solution restores the
# committed file while keeping the learner's version. Text only: nothing is compiled
# (tests/learn_blank.sh builds and runs a blanked lesson).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

mkdir -p "$scratch/scripts" "$scratch/examples/learn"
cp "$root/scripts/learn.sh" "$scratch/scripts/"
cp "$root"/examples/learn/0*.cpp "$scratch/examples/learn/"
cd "$scratch"
git init -q .
git add .
git -c user.name=test -c user.email=test@example.com commit -qm lessons

for n in 1 2 3 4 5 6; do
  src=$(ls examples/learn/0${n}_*.cpp)
  exercises=$(sed -n 's|^ *// BEGIN EXERCISE \([A-Za-z0-9_]*\).*|\1|p' "$src")
  [[ -n $exercises ]] || fail "$src has no exercise"
  output=$(bash scripts/learn.sh reset $n)
  grep -q "^Blanked lesson $n's exercises in $src" <<<"$output" || fail "reset $n said: $output"
  grep -q "scripts/learn.sh solution $n" <<<"$output" || fail "reset $n does not say how to undo it"
  for exercise in $exercises; do
    grep -q "throw sg::learn::NotWrittenYet(\"$exercise\", __FILE__);" "$src" || fail "$src: no stub for $exercise"
  done
  # Outside the markers nothing changed: the committed file minus what lay between
  # BEGIN and END equals the blanked file minus its stubs.
  strip() { awk '/\/\/ BEGIN EXERCISE/ {print; inside=1; next} /\/\/ END EXERCISE/ {inside=0} !inside'; }
  diff <(git show "HEAD:$src" | strip) <(strip <"$src") >/dev/null || fail "$src changed outside its exercises"
  git diff --quiet HEAD -- "$src" && fail "$src was not changed by reset"

  output=$(bash scripts/learn.sh reset $n)
  grep -q "already blank" <<<"$output" || fail "a second reset $n said: $output"
done

# A file with uncommitted changes that are not a blank is refused, then blanked with --force.
git checkout -q HEAD -- examples/learn/03_write_an_op.cpp
echo "// my notes" >>examples/learn/03_write_an_op.cpp
if bash scripts/learn.sh reset 3 2>"$scratch/err"; then fail "reset blanked a file with uncommitted changes"; fi
grep -q "has changes not committed to git" "$scratch/err" || fail "the refusal said: $(cat "$scratch/err")"
bash scripts/learn.sh --force reset 3 >/dev/null
grep -q 'NotWrittenYet("hypot_backward"' examples/learn/03_write_an_op.cpp || fail "--force reset did not blank"

# solution: the committed file comes back, the learner's version is kept.
output=$(bash scripts/learn.sh solution 3)
git diff --quiet HEAD -- examples/learn/03_write_an_op.cpp || fail "solution 3 did not restore the committed file"
grep -q "// my notes" out/learn/03_write_an_op.mine.cpp || fail "solution 3 did not keep the learner's version"

# Bad input: a lesson that does not exist.
if bash scripts/learn.sh reset 7 2>"$scratch/err"; then fail "reset 7 succeeded"; fi
grep -q "no lesson '7': the lessons are 1 to 6" "$scratch/err" || fail "reset 7 said: $(cat "$scratch/err")"
echo "PASS: reset blanks each lesson's exercises and nothing else; refusals, --force and solution work"
