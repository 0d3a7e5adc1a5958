// File formats: .npy (as numpy writes it), atomic writes, IDX (raw and gzip).
#include <doctest/doctest.h>

#include "io_helpers.h"

using namespace sg;
using namespace io_test;


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
