#pragma once
// Checkpoints: named tensors (parameters, optimizer buffers) and string metadata
// (step, generator states, configuration) in one file, so a training run can stop
// and resume exactly.
//
// File format "SGCKPT01", all integers little-endian:
//   magic      8 bytes  "SGCKPT01"
//   file_size  u64      total bytes of the file, checksum included (detects truncation)
//   n_tensors  u64
//   n_meta     u64
//   n_tensors times: name_len u64, name bytes, dtype u8 (0 float32, 1 float64, 2 int64),
//                    ndim u64, ndim x i64 sizes, then prod(sizes) elements, row-major
//   n_meta times:    key_len u64, key bytes, value_len u64, value bytes
//   checksum   u64      64-bit FNV-1a of every byte before it
#include <map>
#include <string>

#include "core/tensor.h"

namespace sg {

struct Checkpoint {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> meta;
};

// Writes every tensor (moved to the CPU first when elsewhere, non-contiguous ones in
// row-major order, in its own dtype) and every metadata entry to `path`, atomically:
// on any error (an undefined tensor, an unwritable directory, a full disk) the file
// previously at `path` is left untouched, and an sg::Error is thrown.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads a file written by save_checkpoint. Tensors come back contiguous, on the CPU,
// not requiring grad. Errors (sg::Error, naming the path): "not a sigmagrad checkpoint
// (bad magic)", "checkpoint X is truncated: ...", trailing bytes, "checksum mismatch"
// (any corrupted byte), and malformed entries.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace sg
