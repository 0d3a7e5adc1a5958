#!/usr/bin/env bash
# The learner's path (docs/learn/README.md): run a lesson's self-check, or blank its
# exercises to write them yourself.
#
#   scripts/learn.sh list              the lessons: page, program, exercises
#   scripts/learn.sh check N [ARGS]    builds lesson N's program if needed, runs it (ARGS go to
#                                      it) and says in words what passes and what is wrong
#   scripts/learn.sh reset N           blanks lesson N's exercises: the code between
#                                      '// BEGIN EXERCISE name' and '// END EXERCISE' becomes a
#                                      stub that compiles and throws "not written yet"
#   scripts/learn.sh solution N        puts the shipped solution back (git checkout), keeping
#                                      a copy of your version in out/learn/
#   scripts/learn.sh blank SRC DST     the blanking alone, from file SRC to file DST (what
#                                      reset does; the test of the blanked check uses it)
#
# The repository ships every exercise solved. reset refuses to blank a file that has
# changes git has not committed (yours, perhaps), unless --force comes first:
#   scripts/learn.sh --force reset N
# BUILD_DIR (default build) is the CMake build folder, as scripts/build.sh makes it.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}

lessons=(01_scalar 02_engine 03_write_an_op 04_mlp 05_spectral_norm 06_gan_sn)
pages=(01-a-scalar-expression 02-the-engine 03-write-an-op 04-an-mlp 05-spectral-norm-by-hand 06-the-gan-and-optional-sn)

die() {
  echo "learn.sh: $*" >&2
  exit 2
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
  exit 2
}

# The lesson's index (0-5) from "N", "0N" or the program's name.
lesson_index() {
  local n=${1:-}
  [[ -n $n ]] || die "which lesson? Give its number, 1 to ${#lessons[@]} (scripts/learn.sh list)"
  for i in "${!lessons[@]}"; do
    if [[ $n == "$((i + 1))" || $n == "0$((i + 1))" || $n == "${lessons[$i]}" ]]; then
      echo "$i"
      return
    fi
  done
  die "no lesson '$n': the lessons are 1 to ${#lessons[@]} (scripts/learn.sh list)"
}

source_of() { echo "examples/learn/${lessons[$1]}.cpp"; }

exercises_in() { sed -n 's|^ *// BEGIN EXERCISE \([A-Za-z0-9_]*\).*|\1|p' "$1"; }

# Copies SRC to DST with every exercise's body replaced by the stub. Fails on markers
# that do not pair up, so a damaged file is never half blanked.
blank_file() {
  local src=$1 dst=$2 tmp
  [[ -f $src ]] || die "no file $src"
  tmp=$(mktemp)
  if ! awk '
    /^ *\/\/ BEGIN EXERCISE [A-Za-z0-9_]+/ {
      if (inside) { print "BEGIN EXERCISE at line " NR " inside another exercise" > "/dev/stderr"; exit 1 }
      inside = 1; count++
      name = $0; sub(/^ *\/\/ BEGIN EXERCISE /, "", name); sub(/[^A-Za-z0-9_].*$/, "", name)
      indent = $0; sub(/[^ ].*$/, "", indent)
      print
      print indent "// Write it here; scripts/learn.sh check tells you whether it is right."
      print indent "throw sg::learn::NotWrittenYet(\"" name "\", __FILE__);"
      next
    }
    /^ *\/\/ END EXERCISE/ {
      if (!inside) { print "END EXERCISE at line " NR " without a BEGIN" > "/dev/stderr"; exit 1 }
      inside = 0; print; next
    }
    !inside { print }
    END {
      if (inside) { print "an exercise is not closed by // END EXERCISE" > "/dev/stderr"; exit 1 }
      if (count == 0) { print "no // BEGIN EXERCISE marker" > "/dev/stderr"; exit 1 }
    }' "$src" >"$tmp"; then
    rm -f "$tmp"
    die "cannot blank $src (its markers are above)"
  fi
  mv "$tmp" "$dst"
}

# True when every exercise in the file is already the stub.
is_blank() {
  local stubs exercises
  stubs=$(grep -c 'throw sg::learn::NotWrittenYet' "$1" || true)
  exercises=$(exercises_in "$1" | wc -l)
  [[ $stubs -gt 0 && $stubs -eq $exercises ]]
}

in_git() { git rev-parse --is-inside-work-tree >/dev/null 2>&1 && git ls-files --error-unmatch "$1" >/dev/null 2>&1; }

cmd_list() {
  for i in "${!lessons[@]}"; do
    local src
    src=$(source_of "$i")
    printf '%d  docs/learn/%s.md\n   program: %s (build/examples/learn/%s)\n   exercises: %s\n' "$((i + 1))" \
      "${pages[$i]}" "$src" "${lessons[$i]}" "$(exercises_in "$src" | paste -sd ' ')"
  done
}

cmd_check() {
  local i program
  i=$(lesson_index "${1:-}")
  shift || true
  program="$build_dir/examples/learn/${lessons[$i]}"
  if [[ ! -f $build_dir/build.ninja && ! -f $build_dir/Makefile ]]; then
    echo "learn.sh: no build in $build_dir/ yet: installing what is missing and configuring it" \
      "(scripts/build.sh builds everything)"
    bash scripts/install-deps.sh
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  echo "learn.sh: building lesson $((i + 1)) (cmake --build $build_dir --target learn_${lessons[$i]})"
  if ! cmake --build "$build_dir" --target "learn_${lessons[$i]}" >"$build_dir/learn-build.log" 2>&1; then
    { grep -E 'error|Error' -A3 "$build_dir/learn-build.log" || true; } | head -40 >&2
    echo >&2
    echo "Lesson $((i + 1)) check: FAILED, $(source_of "$i") does not compile (the compiler's messages are above;" \
      "all of them: $build_dir/learn-build.log)." >&2
    exit 1
  fi
  echo "learn.sh: running $program $*"
  echo
  if "$program" "$@"; then
    echo "All of lesson $((i + 1))'s checks pass. Next: docs/learn/README.md"
  else
    echo "Some of lesson $((i + 1))'s checks fail: read the [WRONG] lines above, change $(source_of "$i")," \
      "and run scripts/learn.sh check $((i + 1)) again."
    exit 1
  fi
}

cmd_reset() {
  local force=$1 i src names
  i=$(lesson_index "${2:-}")
  src=$(source_of "$i")
  names=$(exercises_in "$src" | paste -sd ' ')
  if is_blank "$src"; then
    echo "Lesson $((i + 1))'s exercises ($names) are already blank in $src."
    return
  fi
  if ! in_git "$src"; then
    [[ $force == yes ]] || die "$src is not tracked by git, so a reset could not be undone; pass --force to blank it anyway"
  elif ! git diff --quiet HEAD -- "$src"; then
    [[ $force == yes ]] || die "$src has changes not committed to git (your work?): commit or stash them, or pass" \
      "--force (scripts/learn.sh --force reset $((i + 1))) to blank it anyway"
  fi
  blank_file "$src" "$src"
  echo "Blanked lesson $((i + 1))'s exercises in $src: $names"
  echo "Write each between its '// BEGIN EXERCISE' and '// END EXERCISE' lines, then: scripts/learn.sh check $((i + 1))"
  if in_git "$src"; then
    echo "To get the solution back: scripts/learn.sh solution $((i + 1))   (git checkout -- $src)"
  fi
}

cmd_solution() {
  local i src copy
  i=$(lesson_index "${1:-}")
  src=$(source_of "$i")
  in_git "$src" || die "$src is not tracked by git: there is no committed solution to restore"
  if ! git diff --quiet HEAD -- "$src"; then
    mkdir -p out/learn
    copy="out/learn/${lessons[$i]}.mine.cpp"
    cp "$src" "$copy"
    echo "Kept your version in $copy"
  fi
  git checkout HEAD -- "$src"
  echo "Restored the solution in $src (from git's HEAD)"
}

force=no
if [[ ${1:-} == --force ]]; then
  force=yes
  shift
fi
case ${1:-} in
  list) cmd_list ;;
  check) shift; cmd_check "$@" ;;
  reset) cmd_reset "$force" "${2:-}" ;;
  solution) cmd_solution "${2:-}" ;;
  blank) [[ $# == 3 ]] || die "usage: scripts/learn.sh blank SRC DST"; blank_file "$2" "$3" ;;
  *) usage ;;
esac
