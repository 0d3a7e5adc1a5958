// The defects of the reliability issue, one behaviour each: shapes whose arithmetic
// overflows, empty tensors, files that load only once, ranges that cast to nonsense,
// and arguments that were accepted and then did nothing.
#include <cmath>
#include <limits>

#include "io_helpers.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "optim/adam.h"
#include "optim/sgd.h"

using namespace io_test;

namespace {
constexpr int64_t k2_40 = int64_t{1} << 40;
constexpr int64_t k2_62 = int64_t{1} << 62;

// A checkpoint file by hand, with the FNV-1a checksum computed here (64-bit FNV-1a:
// offset basis 14695981039346656037, prime 1099511628211), one float32 tensor "t".
std::string checkpoint_with_shape(const std::vector<int64_t>& shape, uint64_t claimed_size = 0) {
  auto u64 = [](uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); };
  std::string body = u64(1) + "t" + std::string(1, '\0') + u64(shape.size());
  for (int64_t s : shape) body += u64(static_cast<uint64_t>(s));
  const uint64_t size = 32 + body.size() + 8;
  std::string file = "SGCKPT01" + u64(claimed_size ? claimed_size : size) + u64(1) + u64(0) + body;
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : file) hash = (hash ^ c) * 1099511628211ull;
  return file + u64(hash);
}
}  // namespace

TEST_CASE("a shape whose element count overflows 64 bits is an error naming the shape") {
  // 2^40 * 2^40 = 2^80 elements: the unchecked product wrapped to 0 and at() crashed.
  CHECK_THROWS_WITH_AS(zeros({k2_40, k2_40}), doctest::Contains("[1099511627776, 1099511627776] is too large"), Error);
}

TEST_CASE("a shape whose byte count overflows is an error, not a write past the heap block") {
  // 3 * 2^62 * 4 elements wrapped to a small count; select(1, 5).fill_ wrote past it.
  CHECK_THROWS_WITH_AS(zeros({3, k2_62, 4}), doctest::Contains("too large"), Error);
  // 2^61 float32 elements are 2^63 bytes: the element count fits, the bytes do not.
  CHECK_THROWS_WITH_AS(empty({int64_t{1} << 61}), doctest::Contains("times 4 bytes"), Error);
}

TEST_CASE("a zero-element shape whose strides would overflow is an error") {
  // (0, 2^62, 2^62) has no element, but its first contiguous stride is 2^124.
  CHECK_THROWS_WITH_AS(zeros({0, k2_62, k2_62}), doctest::Contains("too large"), Error);
}

TEST_CASE("views to overflowing shapes are errors naming the op") {
  CHECK_THROWS_WITH_AS(scalar_tensor(1.0).expand({k2_40, k2_40}), doctest::Contains("too large"), Error);
  CHECK_THROWS_WITH_AS(zeros({0}).reshape({0, k2_62, k2_62}), doctest::Contains("reshape: shape"), Error);
}

TEST_CASE("reshape errors name reshape, view errors name view") {
  CHECK_THROWS_WITH_AS(zeros({2, 3}).reshape({4, 2}), doctest::Contains("reshape: shape [4, 2] is invalid"), Error);
  CHECK_THROWS_WITH_AS(zeros({2, 3}).view({4, 2}), doctest::Contains("view: shape [4, 2] is invalid"), Error);
}

TEST_CASE("a tensor with two or more size-0 dims is contiguous and can be viewed") {
  Tensor t = zeros({0, 0, 3});
  CHECK(t.is_contiguous());
  CHECK(t.view({0, 3}).shape() == Shape{0, 3});
  // Any strides lay out zero elements (PyTorch agrees): a permuted empty tensor too.
  CHECK(zeros({0, 2, 3}).permute({2, 1, 0}).is_contiguous());
}

TEST_CASE("load_npy of a file with two size-0 dims returns a contiguous tensor") {
  TempDir dir;
  write_bytes(dir.file("e.npy"), npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 0, 3), }", ""));
  Tensor t = load_npy(dir.file("e.npy"));
  CHECK(t.shape() == Shape{0, 0, 3});
  CHECK(t.is_contiguous());
}

TEST_CASE("whatever load_npy reads, save_npy writes and load_npy reads back, dtype included") {
  // A 0-element uint8 array of shape (2^62, 0) loaded as int64; saved as '<i8' its byte
  // count grew 8-fold past 2^63 and load_npy refused the file save_npy had just written.
  // Now both follow the tensor's own rule (checked_numel with the element size): a
  // uint8 file is read only when the int64 tensor it becomes can exist.
  TempDir dir;
  write_bytes(dir.file("u8.npy"),
              npy_file(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (4611686018427387904, 0), }", ""));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("u8.npy")), doctest::Contains("too large for a tensor"), Error);

  const int64_t k2_59 = int64_t{1} << 59;  // 2^59 * 8 bytes = 2^62: fits
  write_bytes(dir.file("u8ok.npy"),
              npy_file(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (576460752303423488, 0), }", ""));
  Tensor t = load_npy(dir.file("u8ok.npy"));
  CHECK(t.dtype() == DType::Int64);
  save_npy(dir.file("again.npy"), t);
  Tensor back = load_npy(dir.file("again.npy"));
  CHECK(back.dtype() == DType::Int64);
  CHECK(back.shape() == Shape{k2_59, 0});
}

TEST_CASE("load_npy refuses a zero-element shape whose strides overflow") {
  TempDir dir;
  write_bytes(dir.file("big.npy"),
              npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4611686018427387904), }", ""));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("big.npy")), doctest::Contains("too large for a tensor"), Error);
}

TEST_CASE("load_checkpoint refuses a zero-element shape whose strides overflow") {
  TempDir dir;
  write_bytes(dir.file("big.ckpt"), checkpoint_with_shape({0, k2_62, k2_62}));
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("big.ckpt")), doctest::Contains("too large for a tensor"), Error);
}

TEST_CASE("a checkpoint with a zero-element tensor loads") {
  TempDir dir;
  write_bytes(dir.file("empty.ckpt"), checkpoint_with_shape({0, 5}));
  CHECK(load_checkpoint(dir.file("empty.ckpt")).tensors.at("t").shape() == Shape{0, 5});
}

TEST_CASE("a corrupted size field in a checkpoint is reported as corrupted, not truncated") {
  TempDir dir;
  const std::string good = checkpoint_with_shape({0, 5});
  // The size field claims 4 GB; the rest of the file is intact.
  std::string bad = good;
  const uint64_t huge = 4000000000ull;
  std::memcpy(bad.data() + 8, &huge, 8);
  write_bytes(dir.file("bad.ckpt"), bad);
  // The checksum covers the header, so the reader recomputes it with the real size.
  const uint64_t real = good.size();
  std::string fixed = bad;
  std::memcpy(fixed.data() + 8, &real, 8);
  REQUIRE(fixed == good);
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("bad.ckpt")), doctest::Contains("is corrupted: its size field says"),
                       Error);
  // A really truncated file still says truncated.
  write_bytes(dir.file("short.ckpt"), good.substr(0, good.size() - 3));
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("short.ckpt")), doctest::Contains("truncated"), Error);
}

TEST_CASE("arange with an infinite or too large end is an error, not an empty tensor") {
  CHECK_THROWS_WITH_AS(arange(0, std::numeric_limits<double>::infinity()), doctest::Contains("finite"), Error);
  CHECK_THROWS_WITH_AS(arange(0, 1e30), doctest::Contains("more than the 2^48"), Error);
  CHECK_THROWS_WITH_AS(arange(0, std::nan("")), doctest::Contains("finite"), Error);
  CHECK(arange(0, 5).numel() == 5);
}

TEST_CASE("an optimiser with no parameters is an error") {
  CHECK_THROWS_WITH_AS(Adam({}), doctest::Contains("empty parameter list"), Error);
  CHECK_THROWS_WITH_AS(SGD({}), doctest::Contains("empty parameter list"), Error);
}

TEST_CASE("the until-converged SN estimator refuses max_iterations = 0") {
  Generator gen(0);
  Linear layer(3, 4, true, gen);
  SpectralNormOptions options{.estimator = SNEstimator::PowerUntil, .max_iterations = 0};
  CHECK_THROWS_WITH_AS(spectral_norm(layer, options), doctest::Contains("max_iterations >= 1"), Error);
}

TEST_CASE("the operator estimator names operator_input_shape when it does not fit the layer") {
  Generator gen(0);
  Conv2d conv(3, 4, 3, 1, 1, true, gen);
  SpectralNormOptions options{.estimator = SNEstimator::Operator, .operator_input_shape = {1, 5, 8, 8}};
  CHECK_THROWS_WITH_AS(spectral_norm(conv, options),
                       doctest::Contains("operator_input_shape [1, 5, 8, 8] has 5 channels, but the Conv2d takes 3"),
                       Error);
  options.operator_input_shape = {1, 3, 8};
  CHECK_THROWS_WITH_AS(spectral_norm(conv, options), doctest::Contains("operator_input_shape (1, C, H, W)"), Error);
}

TEST_CASE("load_state_dict with an undefined tensor names the key") {
  Generator gen(0);
  Linear layer(3, 4, true, gen);
  std::map<std::string, Tensor> state = layer.state_dict();
  state["bias"] = Tensor();
  CHECK_THROWS_WITH_AS(layer.load_state_dict(state), doctest::Contains("'bias' is an undefined tensor"), Error);
}
