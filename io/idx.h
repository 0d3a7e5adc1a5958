#pragma once
// IDX files, the format MNIST ships in (yann.lecun.com/exdb/mnist):
//   bytes 0-1  zero
//   byte  2    element type (0x08 = unsigned byte; 0x09 int8, 0x0B int16, 0x0C int32,
//              0x0D float32, 0x0E float64 exist but only 0x08 is supported here)
//   byte  3    number of dimensions
//   then one big-endian uint32 per dimension, then prod(dims) elements, row-major.
#include <cstdint>
#include <string>
#include <vector>

namespace sg {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;  // prod(dims) bytes, row-major
};

// Reads an unsigned-byte IDX file, raw or gzip-compressed (zlib detects which), so
// "train-images-idx3-ubyte" and "train-images-idx3-ubyte.gz" both work.
// Requires: the magic 00 00 08 NN with NN >= 1 dimensions, every dimension positive,
// and exactly prod(dims) data bytes. Otherwise an sg::Error naming the file and, for
// size problems, the expected and found byte counts (truncated or trailing data).
IdxArray read_idx(const std::string& path);

// Writes `array` as a raw (uncompressed) unsigned-byte IDX file, atomically
// (io/atomic_file.h). Requires 1..255 dimensions, each in 1..2^32-1, and
// data.size() == prod(dims).
void write_idx(const std::string& path, const IdxArray& array);

}  // namespace sg
