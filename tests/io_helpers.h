#pragma once
// Helpers shared by test_io.cpp and test_io_data.cpp.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <zlib.h>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/idx.h"
#include "io/mnist.h"
#include "io/npy.h"
#include "ops/ops.h"

using namespace sg;

namespace io_test {

// A fresh directory under /tmp, removed with everything in it at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/sg_test_io_XXXXXX";
    const char* made = mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

template <class T>
inline std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// A .npy file by hand: preamble for `major`.0, the dict padded to 64 bytes, then data.
inline std::string npy_file(int major, const std::string& dict, const std::string& data) {
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  std::size_t header_len = dict.size() + 1;
  header_len += (64 - (8 + length_bytes + header_len) % 64) % 64;
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  for (std::size_t b = 0; b < length_bytes; ++b) out += static_cast<char>((header_len >> (8 * b)) & 0xff);
  return out + dict + std::string(header_len - dict.size() - 1, ' ') + '\n' + data;
}

// What np.save("a.npy", np.arange(6, dtype='<f8').reshape(2, 3)) writes (numpy 1.24):
//   6 bytes   magic \x93NUMPY
//   2 bytes   version 1.0
//   2 bytes   header length 118 (0x76 0x00), little-endian, so data starts at byte 128
//   118 bytes the dict, spaces, '\n'
//   48 bytes  0.0 .. 5.0 as little-endian doubles
inline std::string numpy_arange6_file() {
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  std::string bytes = std::string("\x93NUMPY", 6) + '\x01' + '\x00' + '\x76' + '\x00';
  bytes += dict + std::string(127 - bytes.size() - dict.size(), ' ') + '\n';
  return bytes + raw_bytes(std::vector<double>{0, 1, 2, 3, 4, 5});
}

inline IdxArray idx_array(std::vector<int64_t> dims) {
  IdxArray a;
  a.dims = std::move(dims);
  int64_t n = 1;
  for (int64_t d : a.dims) n *= d;
  for (int64_t i = 0; i < n; ++i) a.data.push_back(static_cast<uint8_t>(i * 7 % 256));
  return a;
}

inline void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

// A tiny MNIST directory: image i has every pixel equal to pixel_values[i]; label i is labels[i].
inline void write_tiny_mnist(const std::string& dir, const std::string& prefix, const std::vector<uint8_t>& pixel_values,
                      const std::vector<uint8_t>& labels) {
  IdxArray images{{static_cast<int64_t>(pixel_values.size()), 28, 28}, {}};
  for (uint8_t v : pixel_values) images.data.insert(images.data.end(), 28 * 28, v);
  write_idx(dir + "/" + prefix + "-images-idx3-ubyte", images);
  write_idx(dir + "/" + prefix + "-labels-idx1-ubyte", IdxArray{{static_cast<int64_t>(labels.size())}, labels});
}

// Rows of a (N, 2) float tensor whose row i is (i, i + 0.5), with int64 labels i.
inline Tensor numbered_rows(int64_t n) {
  std::vector<double> v(static_cast<std::size_t>(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    v[static_cast<std::size_t>(2 * i)] = static_cast<double>(i);
    v[static_cast<std::size_t>(2 * i + 1)] = static_cast<double>(i) + 0.5;
  }
  return from_vector(v, {n, 2});
}
inline Tensor numbered_labels(int64_t n) {
  std::vector<int64_t> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return from_vector(v, {n}, {DType::Int64});
}

// Every label the loader yields in one epoch, in order.
inline std::vector<int64_t> epoch_labels(DataLoader& loader) {
  loader.start_epoch();
  std::vector<int64_t> seen;
  Tensor x, y;
  while (loader.next(x, y)) {
    auto batch = y.to_vector<int64_t>();
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  return seen;
}

inline Checkpoint sample_checkpoint() {
  Checkpoint c;
  c.tensors["layer1.weight"] = from_vector(std::vector<float>{1.5f, -2.25f, 3e-8f, 4e20f, 0, -0.0f}, {2, 3});
  c.tensors["layer1.bias"] = from_vector(std::vector<double>{0.1, 1e-300}, {2}, {DType::Float64});
  c.tensors["step_counts"] = from_vector(std::vector<int64_t>{-1, int64_t{1} << 62}, {2}, {DType::Int64});
  c.tensors["scalar"] = scalar_tensor(7.5);
  c.meta["step"] = "1200";
  c.meta["rng"] = std::string("binary\0bytes\n ok", 16);
  c.meta["empty"] = "";
  return c;
}

}  // namespace io_test
