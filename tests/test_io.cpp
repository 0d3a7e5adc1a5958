// Files in and out: .npy, IDX (MNIST's format), MNIST itself, the DataLoader, and
// checkpoints, including what each does with damaged or unexpected files.
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

namespace {

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

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

template <class T>
std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// A .npy file by hand: preamble for `major`.0, the dict padded to 64 bytes, then data.
std::string npy_file(int major, const std::string& dict, const std::string& data) {
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
std::string numpy_arange6_file() {
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  std::string bytes = std::string("\x93NUMPY", 6) + '\x01' + '\x00' + '\x76' + '\x00';
  bytes += dict + std::string(127 - bytes.size() - dict.size(), ' ') + '\n';
  return bytes + raw_bytes(std::vector<double>{0, 1, 2, 3, 4, 5});
}

IdxArray idx_array(std::vector<int64_t> dims) {
  IdxArray a;
  a.dims = std::move(dims);
  int64_t n = 1;
  for (int64_t d : a.dims) n *= d;
  for (int64_t i = 0; i < n; ++i) a.data.push_back(static_cast<uint8_t>(i * 7 % 256));
  return a;
}

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

// A tiny MNIST directory: image i has every pixel equal to pixel_values[i]; label i is labels[i].
void write_tiny_mnist(const std::string& dir, const std::string& prefix, const std::vector<uint8_t>& pixel_values,
                      const std::vector<uint8_t>& labels) {
  IdxArray images{{static_cast<int64_t>(pixel_values.size()), 28, 28}, {}};
  for (uint8_t v : pixel_values) images.data.insert(images.data.end(), 28 * 28, v);
  write_idx(dir + "/" + prefix + "-images-idx3-ubyte", images);
  write_idx(dir + "/" + prefix + "-labels-idx1-ubyte", IdxArray{{static_cast<int64_t>(labels.size())}, labels});
}

// Rows of a (N, 2) float tensor whose row i is (i, i + 0.5), with int64 labels i.
Tensor numbered_rows(int64_t n) {
  std::vector<double> v(static_cast<std::size_t>(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    v[static_cast<std::size_t>(2 * i)] = static_cast<double>(i);
    v[static_cast<std::size_t>(2 * i + 1)] = static_cast<double>(i) + 0.5;
  }
  return from_vector(v, {n, 2});
}
Tensor numbered_labels(int64_t n) {
  std::vector<int64_t> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return from_vector(v, {n}, {DType::Int64});
}

// Every label the loader yields in one epoch, in order.
std::vector<int64_t> epoch_labels(DataLoader& loader) {
  loader.start_epoch();
  std::vector<int64_t> seen;
  Tensor x, y;
  while (loader.next(x, y)) {
    auto batch = y.to_vector<int64_t>();
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  return seen;
}

Checkpoint sample_checkpoint() {
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

}  // namespace

// ---- .npy ------------------------------------------------------------------------------

TEST_CASE("npy round trip keeps float32 values and shape") {
  TempDir dir;
  Tensor t = from_vector(std::vector<float>{1.5f, -2.0f, 3.25f, 1e-30f, 7.0f, -0.0f}, {3, 2});
  save_npy(dir.file("a.npy"), t);
  Tensor back = load_npy(dir.file("a.npy"));
  CHECK(back.dtype() == DType::Float32);
  CHECK(back.shape() == Shape{3, 2});
  CHECK(back.to_vector<float>() == t.to_vector<float>());
}

TEST_CASE("npy round trip keeps float64 values and shape") {
  TempDir dir;
  Tensor t = from_vector(std::vector<double>{0.1, 1e-300, -1e300, 2.0 / 3.0}, {2, 1, 2}, {DType::Float64});
  save_npy(dir.file("a.npy"), t);
  Tensor back = load_npy(dir.file("a.npy"));
  CHECK(back.dtype() == DType::Float64);
  CHECK(back.shape() == Shape{2, 1, 2});
  CHECK(back.to_vector<double>() == std::vector<double>{0.1, 1e-300, -1e300, 2.0 / 3.0});
}

TEST_CASE("npy round trip keeps int64 values beyond 32 bits") {
  TempDir dir;
  std::vector<int64_t> values{-5, 0, int64_t{1} << 40, -(int64_t{1} << 62)};
  save_npy(dir.file("a.npy"), from_vector(values, {4}, {DType::Int64}));
  Tensor back = load_npy(dir.file("a.npy"));
  CHECK(back.dtype() == DType::Int64);
  CHECK(back.shape() == Shape{4});
  CHECK(back.to_vector<int64_t>() == values);
}

TEST_CASE("save_npy writes a transposed tensor in logical row-major order") {
  TempDir dir;
  Tensor t = arange(0, 6).reshape({2, 3}).t();  // [[0, 3], [1, 4], [2, 5]], strides (1, 3)
  REQUIRE_FALSE(t.is_contiguous());
  save_npy(dir.file("t.npy"), t);
  Tensor back = load_npy(dir.file("t.npy"));
  CHECK(back.shape() == Shape{3, 2});
  CHECK(back.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("save_npy of a tensor that requires grad saves its values") {
  TempDir dir;
  Tensor w = tensor({1, 2, 3}).requires_grad_();
  save_npy(dir.file("w.npy"), mul(w, w));
  CHECK(load_npy(dir.file("w.npy")).to_vector<float>() == std::vector<float>{1, 4, 9});
}

TEST_CASE("save_npy_uint8 writes u1 bytes that load back as int64") {
  TempDir dir;
  save_npy_uint8(dir.file("u8.npy"), tensor({{0, 1, 128}, {200, 254, 255}}));
  const std::string bytes = read_bytes(dir.file("u8.npy"));
  CHECK(bytes.find("'descr': '|u1'") != std::string::npos);
  REQUIRE(bytes.size() == 128 + 6);
  CHECK(bytes.substr(128) == std::string("\x00\x01\x80\xc8\xfe\xff", 6));
  Tensor back = load_npy(dir.file("u8.npy"));
  CHECK(back.dtype() == DType::Int64);
  CHECK(back.shape() == Shape{2, 3});
  CHECK(back.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 128, 200, 254, 255});
}

TEST_CASE("save_npy_uint8 refuses values outside 0..255 and fractions") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(save_npy_uint8(dir.file("a.npy"), tensor({1, 256})),
                       doctest::Contains("expected integer values in 0..255, got 256 at flat index 1"), Error);
  CHECK_THROWS_WITH_AS(save_npy_uint8(dir.file("a.npy"), tensor({-1})), doctest::Contains("got -1"), Error);
  CHECK_THROWS_WITH_AS(save_npy_uint8(dir.file("a.npy"), tensor({2.5})), doctest::Contains("got 2.5"), Error);
  CHECK_THROWS_AS(save_npy_uint8(dir.file("a.npy"), tensor({std::nan("")})), Error);
  CHECK_FALSE(std::filesystem::exists(dir.file("a.npy")));
}

TEST_CASE("load_npy reads the exact bytes numpy writes") {
  TempDir dir;
  const std::string bytes = numpy_arange6_file();
  REQUIRE(bytes.size() == 128 + 48);
  CHECK(bytes.substr(0, 10) == std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  CHECK(bytes[127] == '\n');
  write_bytes(dir.file("np.npy"), bytes);
  Tensor t = load_npy(dir.file("np.npy"));
  CHECK(t.dtype() == DType::Float64);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.to_vector<double>() == std::vector<double>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("save_npy writes the same bytes as numpy") {
  TempDir dir;
  save_npy(dir.file("ours.npy"), arange(0, 6, 1, {DType::Float64}).reshape({2, 3}));
  CHECK(read_bytes(dir.file("ours.npy")) == numpy_arange6_file());
}

TEST_CASE("save_npy writes 1-d shapes as (5,) and 0-d shapes as ()") {
  TempDir dir;
  save_npy(dir.file("v.npy"), zeros({5}));
  save_npy(dir.file("s.npy"), scalar_tensor(2, {DType::Int64}));
  const std::string v = read_bytes(dir.file("v.npy")), s = read_bytes(dir.file("s.npy"));
  const std::string v_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }";
  const std::string s_dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (), }";
  CHECK(v.substr(10, v_dict.size()) == v_dict);
  CHECK(s.substr(10, s_dict.size()) == s_dict);
  CHECK(v.size() == 128 + 20);
  CHECK(s.size() == 128 + 8);
  CHECK(load_npy(dir.file("s.npy")).shape() == Shape{});
  CHECK(load_npy(dir.file("s.npy")).item() == 2);
}

TEST_CASE("save_npy leaves numpy's growth room and pads long headers to the next 64 bytes") {
  // np.save of np.zeros((1,)*15, 'u1'): the dict is 99 characters, plus 20 spaces of room
  // for the first axis to grow, so the data starts at byte 192 (header length 0xb6).
  TempDir dir;
  save_npy_uint8(dir.file("a.npy"), zeros(Shape(15, 1)));
  const std::string bytes = read_bytes(dir.file("a.npy"));
  REQUIRE(bytes.size() == 192 + 1);
  CHECK(bytes.substr(6, 4) == std::string("\x01\x00\xb6\x00", 4));
  CHECK(bytes[191] == '\n');
  CHECK(bytes.find("(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }") != std::string::npos);
}

TEST_CASE("load_npy reads format versions 2.0 and 3.0") {
  TempDir dir;
  const std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
  const std::string data = raw_bytes(std::vector<int64_t>{7, -8, 9});
  for (int major : {2, 3}) {
    write_bytes(dir.file("v.npy"), npy_file(major, dict, data));
    Tensor t = load_npy(dir.file("v.npy"));
    CHECK(t.to_vector<int64_t>() == std::vector<int64_t>{7, -8, 9});
  }
}

TEST_CASE("load_npy accepts other key orders, double quotes and no trailing comma") {
  TempDir dir;
  write_bytes(dir.file("a.npy"), npy_file(1, "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f4\"}",
                                          raw_bytes(std::vector<float>{1.5f, 2.5f})));
  CHECK(load_npy(dir.file("a.npy")).to_vector<float>() == std::vector<float>{1.5f, 2.5f});
}

TEST_CASE("load_npy rejects a bad magic string") {
  TempDir dir;
  std::string bytes = numpy_arange6_file();
  bytes[1] = 'X';
  write_bytes(dir.file("bad.npy"), bytes);
  CHECK_THROWS_WITH_AS(load_npy(dir.file("bad.npy")), doctest::Contains("not a .npy file (bad magic"), Error);
  write_bytes(dir.file("short.npy"), "PK");
  CHECK_THROWS_WITH_AS(load_npy(dir.file("short.npy")), doctest::Contains("got 50 4b"), Error);
}

TEST_CASE("load_npy rejects unsupported format versions") {
  TempDir dir;
  std::string bytes = numpy_arange6_file();
  bytes[6] = '\x04';
  write_bytes(dir.file("v4.npy"), bytes);
  CHECK_THROWS_WITH_AS(load_npy(dir.file("v4.npy")), doctest::Contains("version 4.0; expected 1.0, 2.0 or 3.0"), Error);
}

TEST_CASE("load_npy rejects fortran order") {
  TempDir dir;
  write_bytes(dir.file("f.npy"), npy_file(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                                          raw_bytes(std::vector<double>(6, 1.0))));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("f.npy")), doctest::Contains("fortran_order: True"), Error);
}

TEST_CASE("load_npy rejects big-endian dtypes") {
  TempDir dir;
  write_bytes(dir.file("be.npy"), npy_file(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                                           std::string(4, '\0')));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("be.npy")), doctest::Contains("big-endian data (dtype '>f4')"), Error);
}

TEST_CASE("load_npy rejects unknown dtypes and lists the supported ones") {
  TempDir dir;
  write_bytes(dir.file("i4.npy"), npy_file(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }",
                                           std::string(4, '\0')));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("i4.npy")), doctest::Contains("dtype '<i4', which is not supported"), Error);
  CHECK_THROWS_WITH_AS(load_npy(dir.file("i4.npy")), doctest::Contains("'<f4' (float32)"), Error);
}

TEST_CASE("load_npy rejects a header that does not parse") {
  TempDir dir;
  write_bytes(dir.file("h1.npy"), npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", ""));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("h1.npy")), doctest::Contains("header that does not parse: expected an integer"),
                       Error);
  write_bytes(dir.file("h2.npy"), npy_file(1, "{'descr': '<f4', 'shape': (2,), }", ""));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("h2.npy")), doctest::Contains("some are missing"), Error);
  write_bytes(dir.file("h3.npy"), npy_file(1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", ""));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("h3.npy")), doctest::Contains("expected True or False"), Error);
}

TEST_CASE("load_npy reports truncated data with expected and found sizes") {
  TempDir dir;
  std::string bytes = numpy_arange6_file();
  write_bytes(dir.file("cut.npy"), bytes.substr(0, bytes.size() - 5));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("cut.npy")), doctest::Contains("truncated: expected 48 bytes of data, found 43"),
                       Error);
  write_bytes(dir.file("cut_header.npy"), bytes.substr(0, 60));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("cut_header.npy")), doctest::Contains("header promises 118 bytes"), Error);
}

TEST_CASE("load_npy rejects trailing bytes after the data") {
  TempDir dir;
  write_bytes(dir.file("long.npy"), numpy_arange6_file() + "xyz");
  CHECK_THROWS_WITH_AS(load_npy(dir.file("long.npy")), doctest::Contains("3 unexpected trailing bytes"), Error);
}

TEST_CASE("load_npy of a missing file names it") {
  CHECK_THROWS_WITH_AS(load_npy("/nonexistent/dir/a.npy"), doctest::Contains("cannot open '/nonexistent/dir/a.npy'"),
                       Error);
}

// ---- atomic writes ---------------------------------------------------------------------

TEST_CASE("write_file_atomically replaces the file and leaves no temporary behind") {
  TempDir dir;
  write_bytes(dir.file("f"), "old");
  write_file_atomically(dir.file("f"), [](std::ostream& os) { os << "new contents"; });
  CHECK(read_bytes(dir.file("f")) == "new contents");
  CHECK_FALSE(std::filesystem::exists(dir.file("f.tmp")));
}

TEST_CASE("write_file_atomically keeps the old file when the writer throws") {
  TempDir dir;
  write_bytes(dir.file("f"), "old");
  CHECK_THROWS_WITH_AS(write_file_atomically(dir.file("f"),
                                             [](std::ostream& os) {
                                               os << "half of the new";
                                               throw Error("disk on fire");
                                             }),
                       "disk on fire", Error);
  CHECK(read_bytes(dir.file("f")) == "old");
  CHECK_FALSE(std::filesystem::exists(dir.file("f.tmp")));
}

TEST_CASE("write_file_atomically into a missing directory names the path") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(save_npy(dir.file("no/such/dir/a.npy"), zeros({2})),
                       doctest::Contains("no/such/dir/a.npy.tmp' for writing"), Error);
}

// ---- IDX --------------------------------------------------------------------------------

TEST_CASE("idx round trip through write_idx and read_idx") {
  TempDir dir;
  IdxArray a = idx_array({3, 4, 5});
  write_idx(dir.file("a.idx"), a);
  const std::string bytes = read_bytes(dir.file("a.idx"));
  CHECK(bytes.substr(0, 16) == std::string("\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05", 16));
  CHECK(bytes.size() == 16 + 60);
  IdxArray back = read_idx(dir.file("a.idx"));
  CHECK(back.dims == std::vector<int64_t>{3, 4, 5});
  CHECK(back.data == a.data);
}

TEST_CASE("read_idx reads gzip-compressed files transparently") {
  TempDir dir;
  IdxArray a = idx_array({70000});  // dims above 65535 exercise all four dim bytes
  write_idx(dir.file("a.idx"), a);
  write_gzip(dir.file("a.idx.gz"), read_bytes(dir.file("a.idx")));
  CHECK(read_bytes(dir.file("a.idx.gz")).substr(0, 2) == "\x1f\x8b");  // really gzip
  IdxArray back = read_idx(dir.file("a.idx.gz"));
  CHECK(back.dims == std::vector<int64_t>{70000});
  CHECK(back.data == a.data);
}

TEST_CASE("read_idx reports truncated data with expected and found sizes") {
  TempDir dir;
  write_idx(dir.file("a.idx"), idx_array({10, 3}));
  const std::string bytes = read_bytes(dir.file("a.idx"));
  write_bytes(dir.file("cut.idx"), bytes.substr(0, bytes.size() - 4));
  CHECK_THROWS_WITH_AS(read_idx(dir.file("cut.idx")),
                       doctest::Contains("cut.idx' is truncated: expected 30 bytes of data (dims [10, 3]), found 26"),
                       Error);
  write_bytes(dir.file("cut_dims.idx"), bytes.substr(0, 9));
  CHECK_THROWS_WITH_AS(read_idx(dir.file("cut_dims.idx")), doctest::Contains("expected 8 bytes of dimensions"), Error);
}

TEST_CASE("read_idx reports a truncated gzip stream as truncated") {
  TempDir dir;
  IdxArray a = idx_array({50000});
  write_idx(dir.file("a.idx"), a);
  write_gzip(dir.file("a.idx.gz"), read_bytes(dir.file("a.idx")));
  const std::string gz = read_bytes(dir.file("a.idx.gz"));
  write_bytes(dir.file("cut.idx.gz"), gz.substr(0, gz.size() / 2));
  CHECK_THROWS_WITH_AS(read_idx(dir.file("cut.idx.gz")), doctest::Contains("is truncated: expected 50000 bytes"), Error);
}

TEST_CASE("read_idx reports trailing bytes") {
  TempDir dir;
  write_idx(dir.file("a.idx"), idx_array({4}));
  write_bytes(dir.file("long.idx"), read_bytes(dir.file("a.idx")) + "ab");
  CHECK_THROWS_WITH_AS(read_idx(dir.file("long.idx")),
                       doctest::Contains("2 trailing bytes: expected 4 bytes of data (dims [4]), found 6"), Error);
}

TEST_CASE("read_idx rejects a wrong magic number") {
  TempDir dir;
  write_bytes(dir.file("png.idx"), "\x89PNG\r\n\x1a\n");
  CHECK_THROWS_WITH_AS(read_idx(dir.file("png.idx")),
                       doctest::Contains("not an IDX file (bad magic: expected 00 00 08 NN, got 0x89 0x50 0x4e 0x47)"),
                       Error);
}

TEST_CASE("read_idx names an unsupported element type") {
  TempDir dir;
  write_bytes(dir.file("f.idx"), std::string("\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x80\x3f", 12));
  CHECK_THROWS_WITH_AS(read_idx(dir.file("f.idx")),
                       doctest::Contains("element type 0x0d (float32); only unsigned byte (0x08)"), Error);
}

TEST_CASE("read_idx rejects zero-sized dimensions") {
  TempDir dir;
  write_bytes(dir.file("z.idx"), std::string("\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x00", 12));
  CHECK_THROWS_WITH_AS(read_idx(dir.file("z.idx")), doctest::Contains("dimension of size 0 (dims [2, 0])"), Error);
}

TEST_CASE("read_idx of a missing file names it") {
  CHECK_THROWS_WITH_AS(read_idx("/nonexistent/x-idx1-ubyte"), doctest::Contains("cannot open '/nonexistent/x-idx1-ubyte'"),
                       Error);
}

TEST_CASE("write_idx refuses data that does not match the dims") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(write_idx(dir.file("a.idx"), IdxArray{{2, 3}, std::vector<uint8_t>(5)}),
                       doctest::Contains("dims [2, 3] need 6 bytes of data, got 5"), Error);
  CHECK_THROWS_WITH_AS(write_idx(dir.file("a.idx"), IdxArray{{}, {}}), doctest::Contains("got 0"), Error);
}

// ---- MNIST ------------------------------------------------------------------------------

TEST_CASE("load_mnist maps pixels to -1..1 and keeps the labels") {
  TempDir dir;
  write_tiny_mnist(dir.path, "train", {0, 255, 51, 204, 128}, {3, 0, 9, 1, 7});
  MnistSplit s = load_mnist(dir.path, true);
  CHECK(s.images.dtype() == DType::Float32);
  CHECK(s.images.shape() == Shape{5, 1, 28, 28});
  CHECK(s.labels.dtype() == DType::Int64);
  CHECK(s.labels.to_vector<int64_t>() == std::vector<int64_t>{3, 0, 9, 1, 7});
  CHECK(s.images.at({0, 0, 0, 0}) == -1.0);
  CHECK(s.images.at({1, 0, 27, 27}) == 1.0);
  CHECK(s.images.at({2, 0, 5, 9}) == doctest::Approx(-0.6));  // 51 / 255 * 2 - 1
  CHECK(s.images.at({3, 0, 14, 0}) == doctest::Approx(0.6));
  CHECK(s.images.at({4, 0, 3, 3}) == doctest::Approx(128.0 / 255 * 2 - 1));
  // Every pixel of image 1 is 1.0, not only the corners.
  CHECK(s.images.select(0, 1).sum().item() == doctest::Approx(784.0));
}

TEST_CASE("load_mnist reads the gzipped test split") {
  TempDir dir;
  write_tiny_mnist(dir.path, "t10k", {10, 20}, {4, 2});
  for (const char* name : {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    write_gzip(dir.file(std::string(name) + ".gz"), read_bytes(dir.file(name)));
    std::filesystem::remove(dir.file(name));
  }
  MnistSplit s = load_mnist(dir.path, false);
  CHECK(s.images.shape() == Shape{2, 1, 28, 28});
  CHECK(s.labels.to_vector<int64_t>() == std::vector<int64_t>{4, 2});
  CHECK(s.images.at({1, 0, 7, 7}) == doctest::Approx(20.0 / 255 * 2 - 1));
}

TEST_CASE("load_mnist names the missing files and scripts/fetch-mnist.sh") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("train-images-idx3-ubyte.gz"), Error);
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("scripts/fetch-mnist.sh"), Error);
  write_tiny_mnist(dir.path, "t10k", {1}, {1});
  std::filesystem::remove(dir.file("t10k-labels-idx1-ubyte"));
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, false), doctest::Contains("test labels not found"), Error);
}

TEST_CASE("load_mnist rejects images that are not 28x28") {
  TempDir dir;
  write_idx(dir.file("train-images-idx3-ubyte"), idx_array({2, 28, 27}));
  write_idx(dir.file("train-labels-idx1-ubyte"), IdxArray{{2}, {1, 2}});
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("dims [N, 28, 28], got [2, 28, 27]"), Error);
}

TEST_CASE("load_mnist rejects different image and label counts") {
  TempDir dir;
  write_tiny_mnist(dir.path, "train", {1, 2, 3}, {1, 2});
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("holds 3 images but"), Error);
}

TEST_CASE("load_mnist rejects labels outside 0..9") {
  TempDir dir;
  write_tiny_mnist(dir.path, "train", {1, 2, 3}, {1, 10, 2});
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("expected labels in 0..9"), Error);
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("got 10 at index 1"), Error);
}

// ---- DataLoader ---------------------------------------------------------------------------

TEST_CASE("DataLoader batches have batch_size rows and the last batch is partial") {
  DataLoader loader(numbered_rows(10), numbered_labels(10), 4, false, 0);
  CHECK(loader.batches_per_epoch() == 3);
  loader.start_epoch();
  Tensor x, y;
  std::vector<int64_t> sizes;
  while (loader.next(x, y)) {
    CHECK(x.shape() == Shape{y.size(0), 2});
    CHECK(x.is_contiguous());
    sizes.push_back(y.size(0));
  }
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  CHECK(y.to_vector<int64_t>() == std::vector<int64_t>{8, 9});
  CHECK(x.to_vector<float>() == std::vector<float>{8, 8.5f, 9, 9.5f});
  CHECK_FALSE(loader.next(x, y));  // stays at the end until the next start_epoch
}

TEST_CASE("DataLoader drop_last skips the partial batch") {
  DataLoader loader(numbered_rows(10), numbered_labels(10), 4, true, 3, /*drop_last=*/true);
  CHECK(loader.batches_per_epoch() == 2);
  CHECK(epoch_labels(loader).size() == 8);
  DataLoader exact(numbered_rows(8), numbered_labels(8), 4, false, 0, true);
  CHECK(exact.batches_per_epoch() == 2);
}

TEST_CASE("DataLoader without shuffle yields samples in order") {
  DataLoader loader(numbered_rows(7), numbered_labels(7), 3, false, 0);
  CHECK(epoch_labels(loader) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6});
  CHECK(epoch_labels(loader) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6});
}

TEST_CASE("DataLoader shuffle visits every sample exactly once per epoch, images paired with labels") {
  const int64_t n = 103;
  DataLoader loader(numbered_rows(n), numbered_labels(n), 10, true, 7);
  for (int epoch = 0; epoch < 3; ++epoch) {
    loader.start_epoch();
    std::vector<int64_t> seen;
    Tensor x, y;
    while (loader.next(x, y)) {
      auto labels = y.to_vector<int64_t>();
      auto rows = x.to_vector<float>();
      for (std::size_t i = 0; i < labels.size(); ++i) {
        CHECK(rows[2 * i] == static_cast<float>(labels[i]));
        CHECK(rows[2 * i + 1] == static_cast<float>(labels[i]) + 0.5f);
      }
      seen.insert(seen.end(), labels.begin(), labels.end());
    }
    std::vector<int64_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == numbered_labels(n).to_vector<int64_t>());
    CHECK(seen != sorted);  // it did shuffle
  }
}

TEST_CASE("DataLoader with the same seed gives the same order") {
  DataLoader a(numbered_rows(50), numbered_labels(50), 8, true, 42);
  DataLoader b(numbered_rows(50), numbered_labels(50), 8, true, 42);
  for (int epoch = 0; epoch < 3; ++epoch) CHECK(epoch_labels(a) == epoch_labels(b));
}

TEST_CASE("DataLoader with different seeds gives different orders") {
  DataLoader a(numbered_rows(50), numbered_labels(50), 8, true, 1);
  DataLoader b(numbered_rows(50), numbered_labels(50), 8, true, 2);
  CHECK(epoch_labels(a) != epoch_labels(b));
}

TEST_CASE("DataLoader draws a new order every epoch") {
  DataLoader loader(numbered_rows(50), numbered_labels(50), 8, true, 1);
  std::vector<int64_t> first = epoch_labels(loader);
  CHECK(epoch_labels(loader) != first);
  CHECK(loader.epoch() == 2);
}

TEST_CASE("DataLoader order for a seed is fixed on every machine") {
  // mt19937_64 and the Fisher-Yates draw are fully specified, so this order never changes.
  DataLoader loader(numbered_rows(10), numbered_labels(10), 10, true, 42);
  CHECK(epoch_labels(loader) == std::vector<int64_t>{1, 7, 9, 0, 3, 8, 4, 2, 5, 6});
}

TEST_CASE("DataLoader resumed from a saved rng state gives the same next epoch") {
  DataLoader original(numbered_rows(40), numbered_labels(40), 16, true, 5);
  epoch_labels(original);
  const std::string saved = original.rng_state();
  std::vector<int64_t> next_epoch = epoch_labels(original);

  DataLoader resumed(numbered_rows(40), numbered_labels(40), 16, true, 999);  // a different seed
  resumed.set_rng_state(saved);
  CHECK(epoch_labels(resumed) == next_epoch);
}

TEST_CASE("DataLoader resume_epoch continues mid-epoch exactly") {
  DataLoader original(numbered_rows(40), numbered_labels(40), 6, true, 11);
  epoch_labels(original);
  original.start_epoch();
  Tensor x, y;
  original.next(x, y);
  original.next(x, y);
  const std::string state = original.epoch_rng_state();
  const int64_t position = original.position();
  CHECK(position == 2);
  std::vector<int64_t> rest;
  while (original.next(x, y)) rest.push_back(y.to_vector<int64_t>()[0]);

  DataLoader resumed(numbered_rows(40), numbered_labels(40), 6, true, 0);
  resumed.resume_epoch(state, position);
  std::vector<int64_t> resumed_rest;
  while (resumed.next(x, y)) resumed_rest.push_back(y.to_vector<int64_t>()[0]);
  CHECK(resumed_rest == rest);
  CHECK(resumed_rest.size() == 5);
  CHECK(epoch_labels(resumed) == epoch_labels(original));  // and the epochs after it
}

TEST_CASE("DataLoader rejects bad arguments and next before start_epoch") {
  CHECK_THROWS_WITH_AS(DataLoader(numbered_rows(5), numbered_labels(4), 2, false, 0),
                       doctest::Contains("images [5, 2] and labels [4]"), Error);
  CHECK_THROWS_WITH_AS(DataLoader(numbered_rows(5), numbered_labels(5), 0, false, 0),
                       doctest::Contains("batch_size >= 1, got 0"), Error);
  DataLoader loader(numbered_rows(5), numbered_labels(5), 2, false, 0);
  Tensor x, y;
  CHECK_THROWS_WITH_AS(loader.next(x, y), doctest::Contains("start_epoch()"), Error);
  CHECK_THROWS_WITH_AS(loader.resume_epoch(loader.rng_state(), 4), doctest::Contains("position in 0..3"), Error);
}

TEST_CASE("DataLoader batches are copies: writing to a batch leaves the data unchanged") {
  Tensor images = numbered_rows(4);
  DataLoader loader(images, numbered_labels(4), 4, false, 0);
  loader.start_epoch();
  Tensor x, y;
  REQUIRE(loader.next(x, y));
  x.fill_(-1);
  CHECK(images.at({0, 0}) == 0);
}

// ---- checkpoints -------------------------------------------------------------------------

TEST_CASE("checkpoint round trip keeps tensors of every dtype and the metadata") {
  TempDir dir;
  const Checkpoint saved = sample_checkpoint();
  save_checkpoint(dir.file("c.ckpt"), saved);
  CHECK(read_bytes(dir.file("c.ckpt")).substr(0, 8) == "SGCKPT01");
  Checkpoint back = load_checkpoint(dir.file("c.ckpt"));
  REQUIRE(back.tensors.size() == 4);
  for (const auto& [name, t] : saved.tensors) {
    const Tensor& b = back.tensors.at(name);
    CHECK(b.dtype() == t.dtype());
    CHECK(b.shape() == t.shape());
    CHECK(b.device() == Device::cpu());
    CHECK(b.is_contiguous());
    CHECK(b.to_vector<double>() == t.to_vector<double>());
  }
  CHECK(back.tensors.at("step_counts").to_vector<int64_t>() == std::vector<int64_t>{-1, int64_t{1} << 62});
  CHECK(back.meta == saved.meta);
}

TEST_CASE("checkpoint saves views in row-major order and empty tensors") {
  TempDir dir;
  Checkpoint c;
  c.tensors["transposed"] = arange(0, 6).reshape({2, 3}).t();
  c.tensors["sliced"] = arange(0, 10, 1, {DType::Int64}).slice(0, 1, 10, 3);
  c.tensors["empty"] = zeros({0, 5});
  save_checkpoint(dir.file("c.ckpt"), c);
  Checkpoint back = load_checkpoint(dir.file("c.ckpt"));
  CHECK(back.tensors.at("transposed").to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(back.tensors.at("sliced").to_vector<int64_t>() == std::vector<int64_t>{1, 4, 7});
  CHECK(back.tensors.at("empty").shape() == Shape{0, 5});
  CHECK(back.meta.empty());
}

TEST_CASE("an empty checkpoint round trips") {
  TempDir dir;
  save_checkpoint(dir.file("c.ckpt"), Checkpoint{});
  Checkpoint back = load_checkpoint(dir.file("c.ckpt"));
  CHECK(back.tensors.empty());
  CHECK(back.meta.empty());
}

TEST_CASE("a truncated checkpoint is reported as truncated") {
  TempDir dir;
  save_checkpoint(dir.file("c.ckpt"), sample_checkpoint());
  const std::string bytes = read_bytes(dir.file("c.ckpt"));
  write_bytes(dir.file("cut.ckpt"), bytes.substr(0, bytes.size() - 10));
  const std::string expected = str("cut.ckpt' is truncated: expected ", bytes.size(), " bytes, found ", bytes.size() - 10);
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("cut.ckpt")), doctest::Contains(expected.c_str()), Error);
  write_bytes(dir.file("tiny.ckpt"), bytes.substr(0, 20));
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("tiny.ckpt")), doctest::Contains("is truncated: expected at least 40"),
                       Error);
}

TEST_CASE("a corrupted byte in a checkpoint is a checksum mismatch") {
  TempDir dir;
  save_checkpoint(dir.file("c.ckpt"), sample_checkpoint());
  const std::string bytes = read_bytes(dir.file("c.ckpt"));
  // Anywhere after the header: inside data, inside a name, inside a length field.
  for (std::size_t at : {bytes.size() / 2, std::size_t{40}, std::size_t{32}, bytes.size() - 20, bytes.size() - 1}) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
    write_bytes(dir.file("bad.ckpt"), damaged);
    CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("bad.ckpt")), doctest::Contains("checksum mismatch"), Error);
  }
}

TEST_CASE("a file that is not a checkpoint is reported as bad magic") {
  TempDir dir;
  save_npy(dir.file("a.npy"), zeros({3}));
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("a.npy")),
                       doctest::Contains("not a sigmagrad checkpoint (bad magic"), Error);
}

TEST_CASE("a checkpoint with bytes appended is an error") {
  TempDir dir;
  save_checkpoint(dir.file("c.ckpt"), sample_checkpoint());
  write_bytes(dir.file("long.ckpt"), read_bytes(dir.file("c.ckpt")) + "!!");
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("long.ckpt")), doctest::Contains("2 unexpected trailing bytes"), Error);
}

TEST_CASE("a failed checkpoint save leaves the existing checkpoint unchanged") {
  TempDir dir;
  const std::string path = dir.file("c.ckpt");
  save_checkpoint(path, sample_checkpoint());
  const std::string before = read_bytes(path);

  Checkpoint broken = sample_checkpoint();
  broken.tensors["zzz_last"] = Tensor();  // throws inside the write, once PATH.tmp exists
  CHECK_THROWS_WITH_AS(save_checkpoint(path, broken), doctest::Contains("tensor 'zzz_last' is undefined"), Error);
  CHECK(read_bytes(path) == before);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

  CHECK_THROWS_AS(save_checkpoint(dir.file("missing/dir/c.ckpt"), sample_checkpoint()), Error);
  CHECK(load_checkpoint(path).meta.at("step") == "1200");
}
