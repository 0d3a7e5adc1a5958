// Operator norms of convolutions (ops/conv_norm.h): the certified bound against the
// largest singular value of each operator's explicit matrix, built here column by
// column (circular: from the definition; zero-padded: by applying the conv to every
// basis image) and decomposed by LAPACK's SVD.
#include <doctest/doctest.h>

#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "tools/gradcheck.h"

using namespace sg;

namespace {

Tensor random_weight(const Shape& shape, uint64_t seed, bool requires_grad = false) {
  Generator gen(seed);
  return randn(shape, gen, {DType::Float64, Device::cpu(), requires_grad});
}

// The circular stride-s convolution on an n x n canvas as a matrix, from its definition
// y[o][i][j] = sum_{c,a,b} W[o][c][a][b] x[c][(s i + a) mod n][(s j + b) mod n].
Tensor circular_matrix(const Tensor& w, int64_t s, int64_t n) {
  const int64_t out = w.shape()[0], in = w.shape()[1], kh = w.shape()[2], kw = w.shape()[3], m = n / s;
  std::vector<double> values(static_cast<std::size_t>(out * m * m * in * n * n), 0.0);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j)
        for (int64_t c = 0; c < in; ++c)
          for (int64_t a = 0; a < kh; ++a)
            for (int64_t b = 0; b < kw; ++b) {
              const int64_t row = (o * m + i) * m + j;
              const int64_t col = (c * n + (s * i + a) % n) * n + (s * j + b) % n;
              values[static_cast<std::size_t>(row * in * n * n + col)] += w.at({o, c, a, b});
            }
  return from_vector(values, {out * m * m, in * n * n}, {DType::Float64});
}

// Any linear map of images as a matrix: column k is f(k-th basis image).
Tensor explicit_matrix(const std::function<Tensor(const Tensor&)>& f, const Shape& input) {
  NoGradGuard no_grad;
  const int64_t n_in = shape_numel(input);
  std::vector<Tensor> columns;
  for (int64_t k = 0; k < n_in; ++k) {
    std::vector<double> basis(static_cast<std::size_t>(n_in), 0.0);
    basis[static_cast<std::size_t>(k)] = 1.0;
    columns.push_back(f(from_vector(basis, input, {DType::Float64})).reshape({-1}));
  }
  return stack(columns, 1);
}

}  // namespace

TEST_CASE("the circular conv norm equals the SVD of its explicit matrix, strides 1 and 2, kernels 3 and 4") {
  const Shape shapes[] = {{3, 2, 3, 3}, {2, 3, 4, 4}, {4, 1, 3, 3}, {1, 4, 4, 4}, {5, 3, 4, 3}};
  uint64_t seed = 10;
  for (const Shape& shape : shapes)
    for (int64_t stride : {1, 2}) {
      CAPTURE(shape_str(shape));
      CAPTURE(stride);
      Tensor w = random_weight(shape, seed++);
      const double reference = exact_top_singular(circular_matrix(w, stride, 8));
      CHECK(circular_conv_norm(w, stride, 8, 8) == doctest::Approx(reference).epsilon(1e-10));
    }
}

TEST_CASE("for zero padding: power iteration <= the true operator norm <= the certified bound") {
  uint64_t seed = 30;
  for (int64_t kernel : {3, 4})
    for (int64_t stride : {1, 2})
      for (int64_t padding : {0, 1, 2})
        for (int64_t size : {5, 6}) {
          CAPTURE(kernel);
          CAPTURE(stride);
          CAPTURE(padding);
          CAPTURE(size);
          Tensor w = random_weight({3, 2, kernel, kernel}, seed++);
          ConvNormGeometry g{.stride = stride, .padding = padding, .input_height = size, .input_width = size};
          const double truth = exact_top_singular(
              explicit_matrix([&](const Tensor& x) { return conv_norm_apply(w, g, x); }, conv_norm_input_shape(w, g)));
          const double bound = certified_conv_norm(w, g).item();
          Generator gen(seed);
          Tensor v = randn(conv_norm_input_shape(w, g), gen, {DType::Float64});
          Tensor u = zeros(conv_norm_output_shape(w, g), {DType::Float64});
          const double lower = conv_operator_power_iteration(w, g, u, v, 30);
          CHECK(lower <= truth * (1 + 1e-12));
          CHECK(truth <= bound * (1 + 1e-12));
        }
}

TEST_CASE("a transposed convolution's certified bound holds against its explicit matrix") {
  uint64_t seed = 60;
  for (int64_t stride : {1, 2})
    for (int64_t padding : {0, 1}) {
      CAPTURE(stride);
      CAPTURE(padding);
      Tensor w = random_weight({2, 3, 4, 4}, seed++);  // ConvTranspose2d(2, 3, 4): (in, out, k, k)
      ConvNormGeometry g{.stride = stride, .padding = padding, .input_height = 4, .input_width = 4, .transposed = true};
      const double truth = exact_top_singular(
          explicit_matrix([&](const Tensor& x) { return conv_transpose2d(x, w, Tensor(), stride, padding); }, {1, 2, 4, 4}));
      CHECK(truth <= certified_conv_norm(w, g).item() * (1 + 1e-12));
    }
}

TEST_CASE("the certified bound is within a few percent of the true norm at the reference DCGAN's shapes") {
  // D's second layer, Conv2d(64, 128, 4, 2, 1) at 14x14, has too large a matrix to
  // decompose here; its first, Conv2d(1, 64, 4, 2, 1) at 28x28, is 12544 x 784.
  Tensor w = random_weight({8, 1, 4, 4}, 80);
  ConvNormGeometry g{.stride = 2, .padding = 1, .input_height = 14, .input_width = 14};
  const double truth = exact_top_singular(
      explicit_matrix([&](const Tensor& x) { return conv_norm_apply(w, g, x); }, conv_norm_input_shape(w, g)));
  const double bound = certified_conv_norm(w, g).item();
  CHECK(bound >= truth);
  CHECK(bound <= truth * 1.05);
}

TEST_CASE("certified_conv_norm passes float64 gradcheck, strides 1 and 2, and transposed") {
  for (int64_t stride : {1, 2})
    for (bool transposed : {false, true}) {
      CAPTURE(stride);
      CAPTURE(transposed);
      Tensor w = random_weight({3, 2, 3, 3}, 90 + static_cast<uint64_t>(stride), true);
      ConvNormGeometry g{.stride = stride, .padding = 1, .input_height = 5, .input_width = 5, .transposed = transposed};
      GradcheckResult r = gradcheck([&](const TensorList& in) { return certified_conv_norm(in[0], g); }, {w});
      CHECK_MESSAGE(r, r.report);
    }
}

TEST_CASE("the certified estimator normalises W by the bound, and W / certified_conv_norm(W) passes gradcheck") {
  Generator gen(5);
  Conv2d conv(2, 3, 3, 2, 1, false, gen, DType::Float64);
  auto sn = spectral_norm(conv, {.estimator = SNEstimator::Certified, .operator_input_shape = {1, 2, 6, 6}});
  Tensor x = random_weight({2, 2, 6, 6}, 6);
  conv(x);
  ConvNormGeometry g{.stride = 2, .padding = 1, .input_height = 6, .input_width = 6};
  conv.eval();
  Tensor w_sn = conv.param("weight").detach();
  CHECK(certified_conv_norm(w_sn, g).item() == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(sn->telemetry().sigma == doctest::Approx(sn->certified_sigma(conv, {1, 2, 6, 6})).epsilon(1e-12));
  CHECK(sn->telemetry().operator_ratio >= 1.0);  // certified / reshaped: the reshape under-estimates
  conv.train();
  Tensor& weight = conv.raw_param("weight");
  GradcheckResult r = gradcheck([&](const TensorList& in) {
    return div(in[0], certified_conv_norm(in[0], g));
  }, {weight.detach().clone().requires_grad_(true)});
  CHECK_MESSAGE(r, r.report);
}

TEST_CASE("conv_operator_power_iteration is an op-level function that refines its vectors") {
  Tensor w = random_weight({3, 2, 3, 3}, 7);
  ConvNormGeometry g{.stride = 1, .padding = 1, .input_height = 5, .input_width = 5};
  Generator gen(1);
  Tensor v = randn({1, 2, 5, 5}, gen, {DType::Float64});
  Tensor u = zeros({1, 3, 5, 5}, {DType::Float64});
  const double first = conv_operator_power_iteration(w, g, u, v, 1);
  const double later = conv_operator_power_iteration(w, g, u, v, 200);
  CHECK(later >= first);  // power iteration's estimate only grows
  CHECK(later <= certified_conv_norm(w, g).item());
  CHECK_THROWS_WITH_AS(conv_operator_power_iteration(w, g, u, u, 1), doctest::Contains("expected v of shape"), Error);
}
