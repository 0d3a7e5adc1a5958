// Forward values of the ops against hand-computed references: one behaviour per
// test case. Where a reference is not obvious, a comment gives its derivation.
// Gradients are checked in tests/test_ops_gradcheck.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "op_cases.h"

using namespace sg_test;
using sg::Tensor;

namespace {

constexpr double kLn2 = 0.69314718055994530942;
const sg::TensorOptions f64{DType::Float64};
const sg::TensorOptions f32{DType::Float32};

Tensor f64_tensor(const std::vector<double>& values, const Shape& shape) {
  return sg::from_vector(values, shape, f64);
}

Tensor int64_tensor(const std::vector<int64_t>& values) { return sg::from_vector(values, {DType::Int64}); }

// 0, 1, 2, ... in the given shape, float64.
Tensor iota(const Shape& shape) { return sg::arange(0, static_cast<double>(sg::shape_numel(shape)), 1, f64).reshape(shape); }

// Every element of t (row-major) equals `expected` to within eps * (1 + |expected|) (doctest::Approx).
void check_values(const Tensor& t, const std::vector<double>& expected, double eps = 1e-12) {
  std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << " (row-major)");
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(eps));
  }
}

// a == b to relative precision eps, however small they are (Approx alone adds an absolute eps).
bool rel_close(double a, double b, double eps) { return std::abs(a - b) <= eps * std::max(std::abs(a), std::abs(b)); }

bool shares_storage(const Tensor& a, const Tensor& b) { return &a.storage() == &b.storage(); }

// Runs `body` in a child process, so that a crash fails the calling test instead of
// killing the whole test binary. Returns body's result, or -signal when the child crashed.
int outcome_in_child(const std::function<int()>& body) {
  pid_t child = fork();
  if (child < 0) return -1000;
  if (child == 0) {
    int code = 97;
    try {
      code = body();
    } catch (...) {
      code = 98;  // an unexpected exception
    }
    _exit(code);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return -1001;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// 0 when f throws sg::Error; 2 when it returns; 3 for another exception; -signal on a crash.
int error_outcome(const std::function<void()>& f) {
  return outcome_in_child([&] {
    try {
      f();
      return 2;
    } catch (const sg::Error&) {
      return 0;
    } catch (...) {
      return 3;
    }
  });
}

// 0 when f's 0-d result equals `expected`; 1 for another value or shape; -signal on a crash.
int value_outcome(const std::function<Tensor()>& f, double expected) {
  return outcome_in_child([&] {
    Tensor y = f();
    return y.dim() == 0 && std::abs(y.item() - expected) <= 1e-12 * (1 + std::abs(expected)) ? 0 : 1;
  });
}

}  // namespace

// ---- arithmetic and broadcasting ---------------------------------------------------------------

TEST_CASE("add broadcasts [2,3] + [3] across the rows") {
  Tensor a = f64_tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f64_tensor({10, 20, 30}, {3});
  Tensor c = a + b;
  CHECK(c.shape() == Shape{2, 3});
  check_values(c, {11, 22, 33, 14, 25, 36});
}

TEST_CASE("add broadcasts [2,1,4] with [3,1] to [2,3,4]") {
  // out[i, j, k] = a[i, 0, k] + b[j, 0]
  Tensor a = iota({2, 1, 4});         // a[i, 0, k] = 4i + k
  Tensor b = f64_tensor({100, 200, 300}, {3, 1});  // b[j, 0] = 100 (j + 1)
  Tensor c = sg::add(a, b);
  CHECK(c.shape() == Shape{2, 3, 4});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) {
        CAPTURE(i);
        CAPTURE(j);
        CAPTURE(k);
        CHECK(c.at({i, j, k}) == doctest::Approx(4.0 * i + k + 100.0 * (j + 1)).epsilon(1e-12));
      }
}

TEST_CASE("sub, mul and div broadcast a 0-d tensor over every element") {
  Tensor x = f64_tensor({1, -2, 4}, {3});
  Tensor s = sg::scalar_tensor(2.0, f64);
  CHECK(s.dim() == 0);
  check_values(sg::sub(x, s), {-1, -4, 2});
  check_values(sg::sub(s, x), {1, 4, -2});
  check_values(sg::mul(x, s), {2, -4, 8});
  check_values(sg::div(x, s), {0.5, -1, 2});
  check_values(sg::div(s, x), {2, -1, 0.5});
  Tensor both_scalars = sg::mul(s, sg::scalar_tensor(-3.0, f64));
  CHECK(both_scalars.dim() == 0);
  CHECK(both_scalars.item() == doctest::Approx(-6.0).epsilon(1e-12));
}

TEST_CASE("operators with a double on either side") {
  Tensor x = f64_tensor({1, 2, 4}, {3});
  check_values(x + 1.5, {2.5, 3.5, 5.5});
  check_values(1.5 + x, {2.5, 3.5, 5.5});
  check_values(x - 1.0, {0, 1, 3});
  check_values(10.0 - x, {9, 8, 6});
  check_values(x * 3.0, {3, 6, 12});
  check_values(3.0 * x, {3, 6, 12});
  check_values(x / 4.0, {0.25, 0.5, 1});
  check_values(1.0 / x, {1, 0.5, 0.25});
  check_values(-x, {-1, -2, -4});
  // A float32 tensor stays float32 with a double operand.
  CHECK((x.to(DType::Float32) * 2.0).dtype() == DType::Float32);
}

TEST_CASE("broadcasting a [5,1] column with a [1,6] row gives their outer sum") {
  Tensor col = iota({5, 1});
  Tensor row = iota({1, 6}) * 10.0;
  Tensor out = col + row;
  CHECK(out.shape() == Shape{5, 6});
  CHECK(out.at({3, 4}) == doctest::Approx(43.0).epsilon(1e-12));
  CHECK(out.at({4, 5}) == doctest::Approx(54.0).epsilon(1e-12));
}

TEST_CASE("pow: squares, cubes of negatives, square roots, negative fractional exponents") {
  Tensor x = f64_tensor({4, 9, 0.25}, {3});
  check_values(sg::pow(x, 2.0), {16, 81, 0.0625});
  check_values(x.pow(0.5), {2, 3, 0.5});
  // 4^-1.5 = 1 / (sqrt(4))^3 = 1/8;  9^-1.5 = 1/27;  0.25^-1.5 = (1/2)^-3 = 8
  check_values(sg::pow(x, -1.5), {0.125, 1.0 / 27.0, 8.0});
  check_values(sg::pow(f64_tensor({-2, 3}, {2}), 3.0), {-8, 27});
  // x^0 = 1 everywhere, 0^0 included (as std::pow and PyTorch).
  check_values(sg::pow(f64_tensor({-3, 0, 5}, {3}), 0.0), {1, 1, 1});
}

// ---- pointwise math -------------------------------------------------------------------------------

TEST_CASE("exp and log: known values and inverses of each other") {
  const double e = std::exp(1.0);
  check_values(sg::exp(f64_tensor({0, 1, -1}, {3})), {1, e, 1 / e});
  check_values(sg::log(f64_tensor({1, e, e * e}, {3})), {0, 1, 2});
  Tensor x = f64_tensor({-3.5, 0.25, 7}, {3});
  check_values(sg::log(sg::exp(x)), {-3.5, 0.25, 7});
  CHECK(std::isinf(sg::log(sg::scalar_tensor(0.0, f64)).item()));
}

TEST_CASE("sqrt and abs") {
  check_values(sg::sqrt(f64_tensor({0, 1, 2.25, 16}, {4})), {0, 1, 1.5, 4});
  check_values(f64_tensor({-2.5, 0, 3}, {3}).abs(), {2.5, 0, 3});
}

TEST_CASE("clamp: two-sided, and one-sided with an infinite bound") {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor x = f64_tensor({-3, -0.5, 0, 0.7, 5}, {5});
  check_values(sg::clamp(x, -1, 1), {-1, -0.5, 0, 0.7, 1});
  check_values(sg::clamp(x, -inf, 0.5), {-3, -0.5, 0, 0.5, 0.5});
  check_values(sg::clamp(x, 0, inf), {0, 0, 0, 0.7, 5});
  check_values(sg::clamp(x.to(DType::Float32), -1, inf), {-1, -0.5, 0, 0.7, 5}, 1e-6);
}

// ---- activations ------------------------------------------------------------------------------------

TEST_CASE("relu zeroes negatives and leaky_relu scales them by the slope") {
  Tensor x = f64_tensor({-2, -0.5, 0, 1.5}, {4});
  check_values(sg::relu(x), {0, 0, 0, 1.5});
  check_values(sg::leaky_relu(x), {-0.02, -0.005, 0, 1.5});
  check_values(sg::leaky_relu(x, 0.2), {-0.4, -0.1, 0, 1.5});
}

TEST_CASE("sigmoid at large |x| saturates to 0 and 1 without NaN") {
  Tensor x = f64_tensor({-1000, -40, 0, 40, 1000}, {5});
  std::vector<double> y = sg::sigmoid(x).to_vector<double>();
  for (double v : y) CHECK_FALSE(std::isnan(v));
  CHECK(y[0] == 0.0);
  CHECK(rel_close(y[1], std::exp(-40.0), 1e-12));  // 1/(1+e^40) = e^-40 / (1 + e^-40)
  CHECK(y[2] == 0.5);
  CHECK(y[3] == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(y[4] == 1.0);
  std::vector<float> y32 = sg::sigmoid(x.to(DType::Float32)).to_vector<float>();
  CHECK(y32[0] == 0.0f);
  CHECK(y32[4] == 1.0f);
  for (float v : y32) CHECK_FALSE(std::isnan(v));
}

TEST_CASE("tanh: known values and saturation") {
  check_values(sg::tanh(f64_tensor({0, 1, -1, 50, -50}, {5})),
               {0, 0.76159415595576488812, -0.76159415595576488812, 1, -1});
}

TEST_CASE("softplus is log(1 + e^(beta x)) / beta, and x itself past the threshold") {
  Tensor x = f64_tensor({0, 1, -50}, {3});
  // softplus(0) = ln 2;  softplus(1) = ln(1 + e);  softplus(-50) = ln(1 + e^-50) ~ e^-50
  std::vector<double> y = sg::softplus(x).to_vector<double>();
  CHECK(y[0] == doctest::Approx(kLn2).epsilon(1e-15));
  CHECK(y[1] == doctest::Approx(std::log1p(std::exp(1.0))).epsilon(1e-15));
  CHECK(rel_close(y[2], std::exp(-50.0), 1e-12));
  // beta 2: ln(1 + e^(2x)) / 2
  std::vector<double> y2 = sg::softplus(x, 2.0).to_vector<double>();
  CHECK(y2[0] == doctest::Approx(kLn2 / 2).epsilon(1e-15));
  CHECK(y2[1] == doctest::Approx(std::log1p(std::exp(2.0)) / 2).epsilon(1e-15));
  CHECK(rel_close(y2[2], std::exp(-100.0) / 2, 1e-12));
  // Default threshold 20: beta x = 25 > 20, so the output is exactly x.
  CHECK(sg::softplus(f64_tensor({25}, {1})).item() == 25.0);
  // beta 2, threshold 3: 2 * 1.6 = 3.2 > 3 -> linear; 2 * 1.4 = 2.8 -> ln(1 + e^2.8) / 2.
  check_values(sg::softplus(f64_tensor({1.6, 1.4}, {2}), 2.0, 3.0), {1.6, std::log1p(std::exp(2.8)) / 2});
  // Large inputs below a huge threshold do not overflow: ln(1 + e^800) = 800 + ln(1 + e^-800).
  CHECK(sg::softplus(f64_tensor({800}, {1}), 1.0, 1e9).item() == doctest::Approx(800.0).epsilon(1e-15));
}

// ---- matmul ---------------------------------------------------------------------------------------------

TEST_CASE("matmul of small known matrices") {
  Tensor a = f64_tensor({1, 2, 3, 4}, {2, 2});
  Tensor b = f64_tensor({5, 6, 7, 8}, {2, 2});
  // [1 2; 3 4] [5 6; 7 8] = [1*5+2*7, 1*6+2*8; 3*5+4*7, 3*6+4*8]
  check_values(sg::matmul(a, b), {19, 22, 43, 50});
  // [2,3] @ [3,1]: rows dotted with (1, 0, -1)
  Tensor c = f64_tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor d = f64_tensor({1, 0, -1}, {3, 1});
  Tensor cd = c.matmul(d);
  CHECK(cd.shape() == Shape{2, 1});
  check_values(cd, {-2, -2});
  // float32 gives the same small integers exactly.
  check_values(sg::matmul(a.to(DType::Float32), b.to(DType::Float32)), {19, 22, 43, 50}, 1e-7);
}

TEST_CASE("matmul of transposed views equals matmul of their contiguous copies") {
  sg::Generator gen(3);
  Tensor a = sg::uniform({4, 3}, -1, 1, gen, f64);
  Tensor b = sg::uniform({5, 4}, -1, 1, gen, f64);
  Tensor at = a.t(), bt = b.t();
  REQUIRE_FALSE(at.is_contiguous());
  Tensor expected = sg::matmul(at.contiguous(), bt.contiguous());  // [3,4] @ [4,5]
  check_values(sg::matmul(at, bt), expected.to_vector<double>());
  check_values(sg::matmul(at, bt.contiguous()), expected.to_vector<double>());
  check_values(sg::matmul(at.contiguous(), bt), expected.to_vector<double>());
  // (B A)^T = A^T B^T
  check_values(sg::matmul(b, a).t(), expected.to_vector<double>());
}

TEST_CASE("matmul of a step-2 column slice equals matmul of its contiguous copy") {
  sg::Generator gen(4);
  Tensor a = sg::uniform({3, 8}, -1, 1, gen, f64).slice(1, 1, 8, 2);  // [3,4], column stride 2
  Tensor b = sg::uniform({4, 2}, -1, 1, gen, f64);
  check_values(sg::matmul(a, b), sg::matmul(a.contiguous(), b).to_vector<double>());
}

TEST_CASE("batched matmul equals one 2-D matmul per batch, a 2-D operand shared by all") {
  sg::Generator gen(5);
  Tensor a = sg::uniform({3, 2, 4}, -1, 1, gen, f64);
  Tensor b = sg::uniform({3, 4, 5}, -1, 1, gen, f64);
  Tensor w = sg::uniform({4, 5}, -1, 1, gen, f64);
  Tensor m = sg::uniform({2, 2}, -1, 1, gen, f64);
  Tensor ab = sg::matmul(a, b), aw = sg::matmul(a, w), ma = sg::matmul(m, a);
  CHECK(ab.shape() == Shape{3, 2, 5});
  CHECK(aw.shape() == Shape{3, 2, 5});
  CHECK(ma.shape() == Shape{3, 2, 4});
  for (int64_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    check_values(ab.select(0, i), sg::matmul(a.select(0, i), b.select(0, i)).to_vector<double>());
    check_values(aw.select(0, i), sg::matmul(a.select(0, i), w).to_vector<double>());
    check_values(ma.select(0, i), sg::matmul(m, a.select(0, i)).to_vector<double>());
  }
  // Batched operands handed over as transposed views.
  Tensor a_t = a.transpose(1, 2).contiguous().transpose(1, 2);
  REQUIRE_FALSE(a_t.is_contiguous());
  check_values(sg::matmul(a_t, b), ab.to_vector<double>());
}

// ---- reductions --------------------------------------------------------------------------------------------

TEST_CASE("sum over everything and over dims, with and without keepdim") {
  Tensor x = iota({2, 3, 4});  // x[i, j, k] = 12 i + 4 j + k
  Tensor all = x.sum();
  CHECK(all.dim() == 0);
  CHECK(all.item() == doctest::Approx(276.0).epsilon(1e-12));  // 0 + 1 + ... + 23 = 23 * 24 / 2

  Tensor over_j = sg::sum(x, {1});  // sum_j (12i + 4j + k) = 36 i + 12 + 3 k
  CHECK(over_j.shape() == Shape{2, 4});
  check_values(over_j, {12, 15, 18, 21, 48, 51, 54, 57});

  // dims {0, 2}, not adjacent: sum_{i,k} (12i + 4j + k) = 4*12 + 2*4*4 j + 2*6 = 60 + 32 j
  Tensor outer = sg::sum(x, {0, 2}, true);
  CHECK(outer.shape() == Shape{1, 3, 1});
  check_values(outer, {60, 92, 124});
  CHECK(sg::sum(x, {0, 2}).shape() == Shape{3});

  Tensor last = x.sum({-1}, true);  // sum_k = 48 i + 16 j + 6
  CHECK(last.shape() == Shape{2, 3, 1});
  check_values(last, {6, 22, 38, 54, 70, 86});
  CHECK(x.sum({1, 2}).shape() == Shape{2});
  check_values(x.sum({1, 2}), {66, 210});  // 0..11 and 12..23
}

TEST_CASE("sum of a 0-d tensor is itself and sum of a long row uses every element") {
  CHECK(sg::scalar_tensor(4.5, f64).sum().item() == 4.5);
  // 1 + 2 + ... + 1001 = 1001 * 1002 / 2, exact in float32 too (the 8-lane loop plus its tail)
  Tensor row = sg::arange(1, 1002, 1, f32);
  CHECK(row.sum().item() == 501501.0);
}

TEST_CASE("sum of a non-contiguous view sums the view's elements only") {
  Tensor x = iota({3, 4});
  Tensor columns = x.slice(1, 0, 4, 2);  // columns 0 and 2: x[i, k] = 4i + k
  check_values(columns.sum({0}), {12, 18});   // (0+4+8), (2+6+10)
  check_values(columns.sum({1}), {2, 10, 18});  // 4i + 4i+2
  check_values(x.t().sum({1}), {12, 15, 18, 21});
}

TEST_CASE("mean over everything and over dims") {
  Tensor x = iota({2, 3, 4});
  CHECK(x.mean().item() == doctest::Approx(11.5).epsilon(1e-12));
  // (60 + 32 j) / 8
  Tensor m = sg::mean(x, {0, 2});
  CHECK(m.shape() == Shape{3});
  check_values(m, {7.5, 11.5, 15.5});
  Tensor kept = x.mean({-1, -3}, true);
  CHECK(kept.shape() == Shape{1, 3, 1});
  check_values(kept, {7.5, 11.5, 15.5});
}

TEST_CASE("max and min along a dim give values and indices, the first index on ties") {
  Tensor x = f64_tensor({3, 9, 1, 9,  //
                         2, 4, 8, 2},
                        {2, 4});
  sg::ValuesIndices mx = sg::max(x, 1);
  CHECK(mx.values.shape() == Shape{2});
  check_values(mx.values, {9, 8});
  CHECK(mx.indices.dtype() == DType::Int64);
  CHECK(mx.indices.to_vector<int64_t>() == std::vector<int64_t>{1, 2});  // the 9 at 1, not at 3

  sg::ValuesIndices mn = sg::min(x, -1, true);
  CHECK(mn.values.shape() == Shape{2, 1});
  check_values(mn.values, {1, 2});
  CHECK(mn.indices.to_vector<int64_t>() == std::vector<int64_t>{2, 0});  // the 2 at 0, not at 3

  sg::ValuesIndices down = sg::max(x, 0, true);
  CHECK(down.values.shape() == Shape{1, 4});
  check_values(down.values, {3, 9, 8, 9});
  CHECK(down.indices.to_vector<int64_t>() == std::vector<int64_t>{0, 0, 1, 0});

  sg::ValuesIndices up = sg::min(x, 0);
  check_values(up.values, {2, 4, 1, 2});
  CHECK(up.indices.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 0, 1});
}

TEST_CASE("max and min propagate NaN and point at it") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = f64_tensor({1, nan, 3, 4, 5, 6}, {2, 3});
  sg::ValuesIndices mx = sg::max(x, 1), mn = sg::min(x, 1);
  CHECK(std::isnan(mx.values.at({0})));
  CHECK(mx.indices.at({0}) == 1);
  CHECK(mx.values.at({1}) == 6);
  CHECK(std::isnan(mn.values.at({0})));
  CHECK(mn.indices.at({0}) == 1);
  CHECK(mn.values.at({1}) == 4);
  CHECK(std::isnan(sg::max(x).item()));
}

TEST_CASE("max and min over all elements") {
  Tensor x = f64_tensor({3, -7, 11, 0.5, 2, -1}, {2, 3});
  Tensor hi = sg::max(x), lo = sg::min(x);
  CHECK(hi.dim() == 0);
  CHECK(hi.item() == 11.0);
  CHECK(lo.item() == -7.0);
  CHECK(sg::max(x.t()).item() == 11.0);
}

TEST_CASE("max along the middle dim of a 3-D tensor") {
  // x[i, j, k] = 12 i + 4 j + k: the maximum over j is at j = 2 everywhere.
  Tensor x = iota({2, 3, 4});
  sg::ValuesIndices mx = sg::max(x, 1);
  CHECK(mx.values.shape() == Shape{2, 4});
  check_values(mx.values, {8, 9, 10, 11, 20, 21, 22, 23});
  for (int64_t v : mx.indices.to_vector<int64_t>()) CHECK(v == 2);
}

TEST_CASE("max passes its gradient to the first of tied maxima only") {
  Tensor x = f64_tensor({5, 1, 5, 2, 7, 7}, {2, 3});
  x.requires_grad_(true);
  sg::max(x, 1).values.sum().backward();
  check_values(x.grad(), {1, 0, 0, 0, 1, 0});
}

TEST_CASE("logsumexp is stable for large inputs") {
  // log(e^1000 + e^1000) = 1000 + ln 2, although e^1000 overflows a double.
  Tensor big = f64_tensor({1000, 1000}, {2});
  CHECK(sg::logsumexp(big, {0}).item() == doctest::Approx(1000 + kLn2).epsilon(1e-15));
  CHECK(sg::logsumexp(f64_tensor({-1000, -1000}, {2}), {0}).item() == doctest::Approx(-1000 + kLn2).epsilon(1e-15));
  CHECK(sg::logsumexp(big.to(DType::Float32), {0}).item() == doctest::Approx(1000 + kLn2).epsilon(1e-7));
  // A row of -inf gives -inf, not NaN; one finite entry among -inf gives that entry.
  const double inf = std::numeric_limits<double>::infinity();
  Tensor with_inf = f64_tensor({-inf, -inf, -inf, 3}, {2, 2});
  std::vector<double> y = sg::logsumexp(with_inf, {1}).to_vector<double>();
  CHECK(y[0] == -inf);
  CHECK(y[1] == doctest::Approx(3.0).epsilon(1e-15));
}

TEST_CASE("logsumexp over one dim, several dims, and with keepdim") {
  // log(e + e^2 + e^3) = 3 + log(1 + e^-1 + e^-2) = 3.40760596444438
  const double lse123 = 3.40760596444437961;
  Tensor x = f64_tensor({1, 2, 3, 1, 2, 3}, {2, 3});
  check_values(sg::logsumexp(x, {1}), {lse123, lse123});
  Tensor kept = sg::logsumexp(x, {1}, true);
  CHECK(kept.shape() == Shape{2, 1});
  // Over both dims: log(2 (e + e^2 + e^3)) = lse123 + ln 2
  CHECK(sg::logsumexp(x, {0, 1}).item() == doctest::Approx(lse123 + kLn2).epsilon(1e-14));
  Tensor both_kept = sg::logsumexp(x, {0, -1}, true);
  CHECK(both_kept.shape() == Shape{1, 1});
  CHECK(both_kept.item() == doctest::Approx(lse123 + kLn2).epsilon(1e-14));
  // Along dim 0, each column holds the same value twice: log(2 e^v) = v + ln 2.
  check_values(sg::logsumexp(x, {0}), {1 + kLn2, 2 + kLn2, 3 + kLn2});
}

// ---- losses ------------------------------------------------------------------------------------------------

TEST_CASE("log_softmax rows exponentiate to probabilities that sum to 1") {
  sg::Generator gen(6);
  Tensor x = sg::uniform({4, 5}, -3, 3, gen, f64);
  for (int64_t dim : {0, 1, -1}) {
    CAPTURE(dim);
    Tensor y = sg::log_softmax(x, dim);
    CHECK(y.shape() == x.shape());
    Tensor totals = sg::exp(y).sum({dim});
    for (double t : totals.to_vector<double>()) CHECK(t == doctest::Approx(1.0).epsilon(1e-14));
    // log_softmax(x) = x - logsumexp(x) along the dim
    check_values(y, sg::sub(x, sg::logsumexp(x, {dim}, true)).to_vector<double>());
  }
}

TEST_CASE("log_softmax of large logits is finite") {
  // [1000, 0]: log_softmax = [-log(1 + e^-1000), -1000 - log(1 + e^-1000)] = [0, -1000]
  std::vector<double> y = sg::log_softmax(f64_tensor({1000, 0}, {1, 2}), 1).to_vector<double>();
  CHECK(y[0] == doctest::Approx(0.0).epsilon(1e-15));
  CHECK(y[1] == doctest::Approx(-1000.0).epsilon(1e-15));
}

TEST_CASE("cross_entropy of a known 2x3 example") {
  // Row 0: logits (1, 2, 3), class 2: logsumexp - 3 = 3.40760596444438 - 3 = 0.40760596444438
  // Row 1: logits (1, 1, 1), class 0: log 3 = 1.09861228866811
  Tensor logits = f64_tensor({1, 2, 3, 1, 1, 1}, {2, 3});
  Tensor target = int64_tensor({2, 0});
  const double row0 = 0.40760596444437961, row1 = std::log(3.0);
  CHECK(sg::cross_entropy(logits, target).item() == doctest::Approx((row0 + row1) / 2).epsilon(1e-14));
  CHECK(sg::cross_entropy(logits, target, sg::Reduction::Sum).item() == doctest::Approx(row0 + row1).epsilon(1e-14));
  Tensor per_row = sg::cross_entropy(logits, target, sg::Reduction::None);
  CHECK(per_row.shape() == Shape{2});
  check_values(per_row, {row0, row1});
  // cross_entropy = nll_loss(log_softmax(logits, 1))
  CHECK(sg::cross_entropy(logits, target).item() ==
        doctest::Approx(sg::nll_loss(sg::log_softmax(logits, 1), target).item()).epsilon(1e-15));
}

TEST_CASE("cross_entropy of huge logits is finite") {
  // Row (500, -500), class 1: loss = logsumexp - (-500) = 500 + log(1 + e^-1000) + 500 = 1000
  Tensor logits = f64_tensor({500, -500}, {1, 2});
  CHECK(sg::cross_entropy(logits, int64_tensor({1})).item() == doctest::Approx(1000.0).epsilon(1e-14));
  CHECK(sg::cross_entropy(logits, int64_tensor({0})).item() == doctest::Approx(0.0).epsilon(1e-14));
}

TEST_CASE("nll_loss picks minus the log-probability of each target class") {
  Tensor log_probs = f64_tensor({-1, -2, -3, -0.5, -1.5, -2.5}, {2, 3});
  Tensor target = int64_tensor({1, 2});
  CHECK(sg::nll_loss(log_probs, target).item() == doctest::Approx((2 + 2.5) / 2).epsilon(1e-14));
  CHECK(sg::nll_loss(log_probs, target, sg::Reduction::Sum).item() == doctest::Approx(4.5).epsilon(1e-14));
  check_values(sg::nll_loss(log_probs, target, sg::Reduction::None), {2, 2.5});
  // A non-contiguous (transposed) input picks the same entries.
  Tensor transposed = f64_tensor({-1, -0.5, -2, -1.5, -3, -2.5}, {3, 2}).t();
  check_values(sg::nll_loss(transposed, target, sg::Reduction::None), {2, 2.5});
}

TEST_CASE("mse_loss: mean, sum and per-element squared errors") {
  Tensor input = f64_tensor({1, 2, 3}, {3});
  Tensor target = f64_tensor({1, 0, 5}, {3});
  // differences 0, 2, -2; squares 0, 4, 4
  CHECK(sg::mse_loss(input, target).item() == doctest::Approx(8.0 / 3.0).epsilon(1e-14));
  CHECK(sg::mse_loss(input, target, sg::Reduction::Sum).item() == doctest::Approx(8.0).epsilon(1e-14));
  check_values(sg::mse_loss(input, target, sg::Reduction::None), {0, 4, 4});
}

TEST_CASE("binary_cross_entropy_with_logits with logits of +-100 is finite and equals the formula") {
  // l(x, y) = max(x, 0) - x y + log(1 + e^-|x|)
  //   (100, 1): 100 - 100 + log1p(e^-100) = e^-100      (-100, 0): 0 + 0 + log1p(e^-100) = e^-100
  //   (100, 0): 100 + e^-100 = 100                     (-100, 1): 0 + 100 + e^-100 = 100
  //   (0, 0.5): ln 2                                    (2, 0.25): 2 - 0.5 + log1p(e^-2)
  Tensor logits = f64_tensor({100, -100, 100, -100, 0, 2}, {6});
  Tensor target = f64_tensor({1, 0, 0, 1, 0.5, 0.25}, {6});
  const double tiny = std::exp(-100.0);
  const double mid = 1.5 + std::log1p(std::exp(-2.0));
  Tensor per_element = sg::binary_cross_entropy_with_logits(logits, target, sg::Reduction::None);
  std::vector<double> l = per_element.to_vector<double>();
  for (double v : l) CHECK(std::isfinite(v));
  CHECK(rel_close(l[0], tiny, 1e-12));
  CHECK(rel_close(l[1], tiny, 1e-12));
  CHECK(l[2] == doctest::Approx(100.0).epsilon(1e-15));
  CHECK(l[3] == doctest::Approx(100.0).epsilon(1e-15));
  CHECK(l[4] == doctest::Approx(kLn2).epsilon(1e-15));
  CHECK(l[5] == doctest::Approx(mid).epsilon(1e-15));
  const double total = 2 * tiny + 200 + kLn2 + mid;
  CHECK(sg::binary_cross_entropy_with_logits(logits, target, sg::Reduction::Sum).item() ==
        doctest::Approx(total).epsilon(1e-14));
  CHECK(sg::binary_cross_entropy_with_logits(logits, target).item() == doctest::Approx(total / 6).epsilon(1e-14));
  // float32: still finite, same values to float32 precision
  std::vector<float> y32 =
      sg::binary_cross_entropy_with_logits(logits.to(DType::Float32), target.to(DType::Float32), sg::Reduction::None)
          .to_vector<float>();
  for (float v : y32) CHECK(std::isfinite(v));
  CHECK(y32[2] == doctest::Approx(100.0).epsilon(1e-6));
  CHECK(y32[4] == doctest::Approx(kLn2).epsilon(1e-6));
}

// ---- shape ops -----------------------------------------------------------------------------------------------

TEST_CASE("cat joins along dim 0 and dim 1") {
  Tensor a = f64_tensor({1, 2, 3, 4}, {2, 2});
  Tensor b = f64_tensor({5, 6}, {1, 2});
  Tensor c = f64_tensor({7, 8, 9, 10}, {2, 2});
  Tensor rows = sg::cat({a, b}, 0);
  CHECK(rows.shape() == Shape{3, 2});
  check_values(rows, {1, 2, 3, 4, 5, 6});
  Tensor cols = sg::cat({a, c, a}, 1);
  CHECK(cols.shape() == Shape{2, 6});
  check_values(cols, {1, 2, 7, 8, 1, 2, 3, 4, 9, 10, 3, 4});
  // Non-contiguous inputs are read through their strides.
  check_values(sg::cat({a.t(), c.t()}, -1), {1, 3, 7, 9, 2, 4, 8, 10});
}

TEST_CASE("stack inserts a new dim") {
  Tensor a = f64_tensor({1, 2, 3}, {3});
  Tensor b = f64_tensor({4, 5, 6}, {3});
  Tensor s0 = sg::stack({a, b}, 0);
  CHECK(s0.shape() == Shape{2, 3});
  check_values(s0, {1, 2, 3, 4, 5, 6});
  Tensor s1 = sg::stack({a, b}, 1);
  CHECK(s1.shape() == Shape{3, 2});
  check_values(s1, {1, 4, 2, 5, 3, 6});
  Tensor last = sg::stack({a, b, a}, -1);
  CHECK(last.shape() == Shape{3, 3});
  check_values(last, {1, 4, 1, 2, 5, 2, 3, 6, 3});
  // 0-d tensors stack into a vector.
  Tensor scalars = sg::stack({sg::scalar_tensor(1.5, f64), sg::scalar_tensor(-2, f64)});
  CHECK(scalars.shape() == Shape{2});
  check_values(scalars, {1.5, -2});
}

TEST_CASE("slice with a step and a negative start is a strided view") {
  Tensor x = sg::arange(0, 10, 1, f64);
  Tensor every_third = x.slice(0, 1, 10, 3);
  check_values(every_third, {1, 4, 7});
  CHECK(every_third.strides() == Shape{3});
  CHECK(every_third.offset() == 1);
  CHECK(shares_storage(every_third, x));
  check_values(x.slice(0, -4, 10, 2), {6, 8});       // start -4 is 6
  check_values(x.slice(0, -4, -1), {6, 7, 8});       // end -1 is 9, exclusive
  check_values(x.slice(0, 7, 100), {7, 8, 9});       // end clamps to the size
  CHECK(x.slice(0, 5, 2).numel() == 0);              // end before start: empty
  Tensor m = iota({3, 4});
  Tensor cols = m.slice(1, 1, 4, 2);  // columns 1 and 3
  CHECK(cols.shape() == Shape{3, 2});
  check_values(cols, {1, 3, 5, 7, 9, 11});
}

TEST_CASE("narrow and select") {
  Tensor x = iota({2, 3, 4});
  Tensor n = x.narrow(2, 1, 2);
  CHECK(n.shape() == Shape{2, 3, 2});
  CHECK(n.at({1, 2, 1}) == 12 + 8 + 2);
  Tensor s = x.select(1, -1);  // j = 2
  CHECK(s.shape() == Shape{2, 4});
  check_values(s, {8, 9, 10, 11, 20, 21, 22, 23});
  check_values(x.select(0, 1).select(0, 0), {12, 13, 14, 15});
  CHECK(shares_storage(s, x));
}

TEST_CASE("squeeze, unsqueeze and flatten change shapes, not values") {
  Tensor x = iota({3, 1, 4});
  CHECK(x.squeeze(1).shape() == Shape{3, 4});
  CHECK(x.squeeze(0).shape() == Shape{3, 1, 4});  // not size 1: unchanged
  CHECK(iota({1, 3, 1}).squeeze().shape() == Shape{3});
  CHECK(x.unsqueeze(0).shape() == Shape{1, 3, 1, 4});
  CHECK(x.unsqueeze(-1).shape() == Shape{3, 1, 4, 1});
  CHECK(x.unsqueeze(3).shape() == Shape{3, 1, 4, 1});
  Tensor y = iota({2, 3, 4});
  CHECK(y.flatten().shape() == Shape{24});
  CHECK(y.flatten(1).shape() == Shape{2, 12});
  CHECK(y.flatten(0, 1).shape() == Shape{6, 4});
  CHECK(sg::scalar_tensor(2.0, f64).flatten().shape() == Shape{1});
  // Flattening a non-contiguous tensor reads it in its own row-major order.
  check_values(y.transpose(0, 2).flatten(), y.transpose(0, 2).contiguous().to_vector<double>());
}

TEST_CASE("permute and transpose reorder dims") {
  Tensor x = iota({2, 3, 4});  // x[i, j, k] = 12 i + 4 j + k
  Tensor p = x.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({3, 1, 2}) == 12 + 8 + 3);  // p[k, i, j] = x[i, j, k]
  CHECK(shares_storage(p, x));
  Tensor t = x.transpose(0, 2);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(t.at({1, 2, 1}) == 12 + 8 + 1);
  Tensor m = iota({2, 3}).t();
  CHECK(m.shape() == Shape{3, 2});
  check_values(m, {0, 3, 1, 4, 2, 5});
}

TEST_CASE("reshape and view keep row-major order and reshape of a non-contiguous tensor copies") {
  Tensor x = iota({3, 4});
  Tensor v = x.view({2, 6});
  CHECK(shares_storage(v, x));
  CHECK(v.at({1, 0}) == 6);
  CHECK(x.reshape({-1, 2}).shape() == Shape{6, 2});
  Tensor xt = x.t();
  Tensor r = xt.reshape({12});
  CHECK_FALSE(shares_storage(r, x));
  check_values(r, {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
}

TEST_CASE("expand has stride 0 and shares storage") {
  Tensor col = f64_tensor({1, 2, 3}, {3, 1});
  Tensor wide = col.expand({3, 4});
  CHECK(wide.shape() == Shape{3, 4});
  CHECK(wide.strides() == Shape{1, 0});
  CHECK(shares_storage(wide, col));
  check_values(wide, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  Tensor lead = f64_tensor({1, 2}, {2}).expand({3, 2});
  CHECK(lead.strides() == Shape{0, 1});
  {
    sg::NoGradGuard no_grad;
    col.select(0, 1).fill_(7);
  }
  CHECK(wide.at({1, 0}) == 7);
  CHECK(wide.at({1, 3}) == 7);
  CHECK(sg::expand(col, {2, -1, 5}).shape() == Shape{2, 3, 5});
}

TEST_CASE("views share storage: writes through one are visible in the other") {
  Tensor base = iota({2, 3});  // [[0, 1, 2], [3, 4, 5]]
  Tensor transposed = base.t();
  Tensor flat = base.view({6});
  Tensor every_other = base.slice(1, 0, 3, 2);  // columns 0 and 2
  {
    sg::NoGradGuard no_grad;
    transposed.select(0, 1).fill_(-1);                            // column 1 of base
    every_other.copy_(f64_tensor({10, 20, 30, 40}, {2, 2}));       // columns 0 and 2
    flat.narrow(0, 4, 1).copy_(sg::scalar_tensor(99, f64));         // base[1, 1], broadcast from 0-d
  }
  check_values(base, {10, -1, 20, 30, 99, 40});
  check_values(transposed, {10, 30, -1, 99, 20, 40});
  // In-place writes bump the shared storage's version (autograd relies on it).
  uint64_t before = base.storage().version();
  {
    sg::NoGradGuard no_grad;
    flat.fill_(0);
  }
  CHECK(base.storage().version() > before);
  check_values(base, {0, 0, 0, 0, 0, 0});
}

TEST_CASE("clone is a fresh contiguous copy and contiguous() copies only when needed") {
  Tensor x = iota({2, 3});
  Tensor c = x.t().clone();
  CHECK(c.is_contiguous());
  CHECK_FALSE(shares_storage(c, x));
  check_values(c, {0, 3, 1, 4, 2, 5});
  {
    sg::NoGradGuard no_grad;
    x.fill_(5);
  }
  CHECK(c.at({0, 1}) == 3);  // unaffected by writes to x
  CHECK(x.contiguous().same(x));
  Tensor made = x.t().contiguous();
  CHECK(made.is_contiguous());
  CHECK_FALSE(shares_storage(made, x));
}

TEST_CASE("to(dtype) converts values: float32 rounds, int64 truncates toward zero") {
  Tensor x = f64_tensor({0.1, -2.7, 2.7, 1e10}, {4});
  std::vector<float> f = x.to(DType::Float32).to_vector<float>();
  CHECK(f[0] == 0.1f);
  CHECK(f[3] == 1e10f);
  Tensor back = x.to(DType::Float32).to(DType::Float64);
  CHECK(back.dtype() == DType::Float64);
  CHECK(back.at({0}) == static_cast<double>(0.1f));
  CHECK(back.at({0}) != 0.1);  // 0.1 is not a float32
  CHECK(x.to(DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{0, -2, 2, 10000000000});
  CHECK(x.to(DType::Float64).same(x));
}

// ---- 0-d tensors ------------------------------------------------------------------------------------------
// A 0-d tensor accepts dim 0 (or -1) where an op takes a dim, as in PyTorch: reductions
// over it return the value itself; ops that need a real dim to index refuse it. Each
// call runs in a child process (outcome 0 = correct, -11 = the child crashed with SIGSEGV).

TEST_CASE("sum, mean and logsumexp over dim 0 of a 0-d tensor return its value") {
  const Tensor s = sg::scalar_tensor(3.0, f64);
  CHECK(value_outcome([&] { return sg::sum(s, {0}); }, 3.0) == 0);
  CHECK(value_outcome([&] { return sg::sum(s, {-1}, true); }, 3.0) == 0);
  CHECK(value_outcome([&] { return sg::mean(s, {0}); }, 3.0) == 0);
  CHECK(value_outcome([&] { return sg::logsumexp(s, {0}); }, 3.0) == 0);  // log(e^3)
  CHECK(value_outcome([&] { return sg::max(s, 0).values; }, 3.0) == 0);
}

TEST_CASE("log_softmax of a 0-d tensor is 0") {
  // x - logsumexp(x) = x - x
  CHECK(value_outcome([] { return sg::log_softmax(sg::scalar_tensor(3.0, f64), 0); }, 0.0) == 0);
  CHECK(value_outcome([] { return sg::log_softmax(sg::scalar_tensor(-7.5, f64), -1); }, 0.0) == 0);
}

TEST_CASE("transpose(0, 0) of a 0-d tensor is the tensor itself") {
  CHECK(value_outcome([] { return sg::scalar_tensor(3.0, f64).transpose(0, 0); }, 3.0) == 0);
}

TEST_CASE("slice, narrow and select refuse a 0-d tensor with an sg::Error") {
  const Tensor s = sg::scalar_tensor(3.0, f64);
  CHECK(error_outcome([&] { s.slice(0, 0, 1); }) == 0);
  CHECK(error_outcome([&] { s.narrow(0, 0, 1); }) == 0);
  CHECK(error_outcome([&] { s.select(0, 0); }) == 0);
}

TEST_CASE("cat refuses 0-d tensors with an sg::Error (stack them instead)") {
  CHECK(error_outcome([] { sg::cat({sg::scalar_tensor(1.0, f64), sg::scalar_tensor(2.0, f64)}); }) == 0);
  CHECK(error_outcome([] { sg::cat({sg::scalar_tensor(1.0, f64)}, -1); }) == 0);
}

// ---- table-driven: every op case of tests/op_cases.h -------------------------------------------------

TEST_CASE("float32 forward results are close to the float64 ones for every op case") {
  for (const OpCase& c : op_cases()) {
    INFO("op case: \"" << c.name << "\"");
    try {
      std::vector<double> y64 = c.fn(make_inputs(c, DType::Float64, Layout::Contiguous)).to_vector<double>();
      Tensor out32 = c.fn(make_inputs(c, DType::Float32, Layout::Contiguous));
      std::vector<double> y32 = out32.to_vector<double>();
      REQUIRE(y32.size() == y64.size());
      for (std::size_t i = 0; i < y64.size(); ++i) {
        INFO("element " << i);
        // Inputs rounded to float32 (relative 6e-8) and float32 arithmetic.
        CHECK(y32[i] == doctest::Approx(y64[i]).epsilon(2e-5));
      }
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << std::string(e.what()));
    }
  }
}

TEST_CASE("non-contiguous inputs give the same forward values as contiguous ones for every op case") {
  for (const OpCase& c : op_cases()) {
    if (!c.non_contiguous_variant) continue;
    INFO("op case: \"" << c.name << "\"");
    try {
      for (DType dtype : {DType::Float64, DType::Float32}) {
        INFO("dtype " << std::string(sg::dtype_name(dtype)));
        Tensor dense = c.fn(make_inputs(c, dtype, Layout::Contiguous));
        Tensor strided = c.fn(make_inputs(c, dtype, Layout::NonContiguous));
        REQUIRE(strided.shape() == dense.shape());
        CHECK(strided.dtype() == dense.dtype());
        std::vector<double> a = dense.to_vector<double>(), b = strided.to_vector<double>();
        for (std::size_t i = 0; i < a.size(); ++i) {
          INFO("element " << i);
          CHECK(b[i] == doctest::Approx(a[i]).epsilon(dtype == DType::Float64 ? 1e-12 : 1e-5));
        }
      }
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << std::string(e.what()));
    }
  }
}
