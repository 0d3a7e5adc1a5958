// Forward values of the arithmetic, pointwise, activation, matmul, reduction and loss ops, checked against hand-computed references.
#include <doctest/doctest.h>

#include "values_helpers.h"

using namespace sg_test;
using sg::Tensor;
using namespace values_test;


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

TEST_CASE("linear is x W^T + b on known values, and its gradients are G W, G^T x and the column sums of G") {
  // x = [1 2; 3 4], W = [1 0; 0 1; 1 1] (3 outputs), b = (10, 20, 30):
  //   x W^T = [1 2 3; 3 4 7], plus b -> [11 22 33; 13 24 37]
  Tensor x = f64_tensor({1, 2, 3, 4}, {2, 2}).requires_grad_();
  Tensor w = f64_tensor({1, 0, 0, 1, 1, 1}, {3, 2}).requires_grad_();
  Tensor b = f64_tensor({10, 20, 30}, {3}).requires_grad_();
  Tensor y = sg::linear(x, w, b);
  check_values(y, {11, 22, 33, 13, 24, 37});
  // L = sum(y * G) with G = [1 0 2; 0 1 1]:
  //   dx = G W = [1+2, 0+2; 0+1, 1+1] = [3 2; 1 2]
  //   dW = G^T x = [1*1+0*3, 1*2+0*4; 0*1+1*3, 0*2+1*4; 2*1+1*3, 2*2+1*4] = [1 2; 3 4; 5 8]
  //   db = (1, 1, 3)
  sg::sum(y * f64_tensor({1, 0, 2, 0, 1, 1}, {2, 3})).backward();
  check_values(x.grad(), {3, 2, 1, 2});
  check_values(w.grad(), {1, 2, 3, 4, 5, 8});
  check_values(b.grad(), {1, 1, 3});
  // Without a bias, a transposed x: the same product.
  Tensor xt = f64_tensor({1, 3, 2, 4}, {2, 2}).t();
  check_values(sg::linear(xt, w.detach()), {1, 2, 3, 3, 4, 7});
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
  }
}

namespace {

// log_softmax of a plain list of doubles, written out: shift by the maximum so that no
// exp overflows, then y_i = (x_i - m) - log(sum_j exp(x_j - m)).
std::vector<double> plain_log_softmax(const std::vector<double>& x) {
  const double m = *std::max_element(x.begin(), x.end());
  double total = 0;
  for (double v : x) total += std::exp(v - m);
  std::vector<double> y;
  for (double v : x) y.push_back(v - m - std::log(total));
  return y;
}

}  // namespace

TEST_CASE("log_softmax equals a plain max-shifted loop along rows and along columns") {
  sg::Generator gen(6);
  Tensor x = sg::uniform({4, 5}, -3, 3, gen, f64);
  const std::vector<double> v = x.to_vector<double>();  // row-major: x[i, j] = v[5 i + j]
  std::vector<double> along_rows(20), along_columns(20);
  for (int i = 0; i < 4; ++i) {  // dim 1: each row is one distribution
    std::vector<double> row(v.begin() + 5 * i, v.begin() + 5 * i + 5);
    std::vector<double> y = plain_log_softmax(row);
    for (int j = 0; j < 5; ++j) along_rows[static_cast<std::size_t>(5 * i + j)] = y[static_cast<std::size_t>(j)];
  }
  for (int j = 0; j < 5; ++j) {  // dim 0: each column is one distribution
    std::vector<double> column;
    for (int i = 0; i < 4; ++i) column.push_back(v[static_cast<std::size_t>(5 * i + j)]);
    std::vector<double> y = plain_log_softmax(column);
    for (int i = 0; i < 4; ++i) along_columns[static_cast<std::size_t>(5 * i + j)] = y[static_cast<std::size_t>(i)];
  }
  check_values(sg::log_softmax(x, 1), along_rows, 1e-13);
  check_values(sg::log_softmax(x, -1), along_rows, 1e-13);
  check_values(sg::log_softmax(x, 0), along_columns, 1e-13);
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
}

TEST_CASE("cross_entropy of random logits equals a plain loop over the rows") {
  // loss_i = log(sum_j exp(x_ij)) - x_i,t_i, computed max-shifted: m_i + log(sum_j exp(x_ij - m_i)) - x_i,t_i.
  sg::Generator gen(7);
  Tensor logits = sg::uniform({6, 4}, -4, 4, gen, f64);
  const std::vector<int64_t> classes{3, 0, 2, 1, 1, 3};
  const std::vector<double> v = logits.to_vector<double>();
  std::vector<double> per_row;
  double total = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    const double m = *std::max_element(v.begin() + 4 * i, v.begin() + 4 * i + 4);
    double sum_exp = 0;
    for (std::size_t j = 0; j < 4; ++j) sum_exp += std::exp(v[4 * i + j] - m);
    per_row.push_back(m + std::log(sum_exp) - v[4 * i + static_cast<std::size_t>(classes[i])]);
    total += per_row.back();
  }
  Tensor target = int64_tensor(classes);
  check_values(sg::cross_entropy(logits, target, sg::Reduction::None), per_row, 1e-13);
  CHECK(sg::cross_entropy(logits, target, sg::Reduction::Sum).item() == doctest::Approx(total).epsilon(1e-13));
  CHECK(sg::cross_entropy(logits, target).item() == doctest::Approx(total / 6).epsilon(1e-13));
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
