#!/usr/bin/env bash
# A lesson with its exercises blanked must fail its check and say which exercise is
# not written yet. Blanks the lesson's source as `scripts/learn.sh reset` does (into the
# build folder, never the tree), builds that one file against the library already built
# (target learn_<lesson>_blank, examples/learn/CMakeLists.txt), runs it, and checks the
# exit code and the messages.
#
#   tests/learn_blank.sh BUILD_DIR LESSON EXERCISE... [-- PROGRAM ARGS]
#   e.g. tests/learn_blank.sh build 03_write_an_op hypot_backward
set -euo pipefail
build=$1 lesson=$2
shift 2
exercises=()
while [[ $# -gt 0 && $1 != -- ]]; do
  exercises+=("$1")
  shift
done
[[ ${1:-} == -- ]] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
blank_dir="$build/examples/learn/blank"
mkdir -p "$blank_dir"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

bash "$root/scripts/learn.sh" blank "$root/examples/learn/$lesson.cpp" "$blank_dir/$lesson.cpp"
for exercise in "${exercises[@]}"; do
  grep -q "throw sg::learn::NotWrittenYet(\"$exercise\", __FILE__);" "$blank_dir/$lesson.cpp" ||
    fail "the blanked source has no stub for '$exercise'"
done
cmake --build "$build" --target "learn_${lesson}_blank" >"$blank_dir/$lesson.build.log" 2>&1 ||
  { cat "$blank_dir/$lesson.build.log"; fail "the blanked $lesson does not compile"; }

set +e
output=$("$blank_dir/$lesson" "$@" 2>&1)
status=$?
set -e
echo "$output"
[[ $status == 1 ]] || fail "the blanked check exited with $status, expected 1 (a failed check)"
number=$((10#${lesson%%_*}))
grep -q "^Lesson $number check: FAILED" <<<"$output" || fail "no 'Lesson $number check: FAILED' line"
for exercise in "${exercises[@]}"; do
  grep -qF "[WRONG] exercise '$exercise' runs" <<<"$output" || fail "no [WRONG] line for exercise '$exercise'"
  grep -qF "exercise '$exercise' is not written yet: in $blank_dir/$lesson.cpp, write it between '// BEGIN EXERCISE $exercise' and '// END EXERCISE', then run: scripts/learn.sh check $number" <<<"$output" ||
    fail "the message for '$exercise' does not say where to write it"
done
echo "PASS: the blanked lesson $lesson fails its check and names ${exercises[*]}"
