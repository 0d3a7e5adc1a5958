// Spectral normalisation: the operator (values, hand-written backward, gradchecks),
// the estimators and the reparameterisation (its policies: tests/test_sn_policy.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "tools/gradcheck.h"

using namespace sg;

namespace {

TensorOptions f64_options(bool requires_grad = false) { return {DType::Float64, Device::cpu(), requires_grad}; }

Tensor random_f64(const Shape& shape, uint64_t seed, bool requires_grad = false) {
  Generator gen(seed);
  return randn(shape, gen, f64_options(requires_grad));
}

// Converged (u, v) for W along dim, so that the test exercises realistic vectors.
SigmaTerm warm_term(const Tensor& w, int64_t dim, uint64_t seed, int iterations, double weight = 1.0) {
  Tensor m = sn_matrix(w.detach(), dim);
  Generator gen(seed);
  SigmaTerm t{dim, randn({m.shape()[0]}, gen, f64_options()), randn({m.shape()[1]}, gen, f64_options()), weight};
  power_iteration(m, t.u, t.v, iterations);
  return t;
}

std::vector<SigmaTerm> cloned(const std::vector<SigmaTerm>& terms) {
  std::vector<SigmaTerm> out;
  for (const SigmaTerm& t : terms) out.push_back({t.dim, t.u.clone(), t.v.clone(), t.weight});
  return out;
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return max(abs(a - b)).item(); }
double norm_of(const Tensor& x) { return std::sqrt(sum(x * x).item()); }
// |got - expected| relative to |expected|, for values far below 1 (doctest::Approx adds
// an absolute tolerance of about its epsilon, which would swallow them).
double relative_error(double got, double expected) { return std::abs(got - expected) / std::abs(expected); }

}  // namespace

TEST_CASE("power_iteration returns u . (M v) of its final pair, on the direct and the general path") {
  // The direct CPU path works on a contiguous matrix; the transposed view takes the
  // general (tensor-op) path. Both must return the sigma that sn_sigma computes afresh.
  Tensor w = random_f64({5, 7}, 31);
  for (const Tensor& m : {w, w.t()}) {
    Generator gen(4);
    Tensor u = randn({m.shape()[0]}, gen, f64_options()), v = randn({m.shape()[1]}, gen, f64_options());
    Tensor sigma = power_iteration(m, u, v, 3);
    CHECK(sigma.dim() == 0);
    CHECK(sigma.item() == doctest::Approx(sn_sigma(m, u, v)).epsilon(1e-12));
    CHECK(norm_of(u) == doctest::Approx(1.0).epsilon(1e-12));
  }
}

TEST_CASE("power_iteration on float32 gives the float64 vectors to float precision") {
  Tensor w = random_f64({6, 4}, 32);
  SigmaTerm t64 = warm_term(w, 0, 5, 0), t32{0, t64.u.to(DType::Float32), t64.v.to(DType::Float32), 1.0};
  double s64 = power_iteration(w, t64.u, t64.v, 2).item();
  double s32 = power_iteration(w.to(DType::Float32), t32.u, t32.v, 2).item();
  CHECK(s32 == doctest::Approx(s64).epsilon(1e-5));
  CHECK(max_abs_diff(t32.v.to(DType::Float64), t64.v) < 1e-5);
}

TEST_CASE("a hand-computed 2x3 case: u, v, sigma, W_sn and dL/dW") {
  // W = [[3, 0, 4], [0, 2, 0]], starting v = (1, 0, 0), one power iteration:
  //   M v = (3, 0)            -> u = (1, 0)
  //   M^T u = (3, 0, 4), |.|=5 -> v = (0.6, 0, 0.8)
  //   sigma = u . (M v) = 3*0.6 + 4*0.8 = 5      (the rows are orthogonal: norms 5 and 2)
  //   W_sn = W / 5 = [[0.6, 0, 0.8], [0, 0.4, 0]]
  // With L = sum(W_sn) (G = all ones): <G, W_sn> = 1.8, u v^T = [[0.6, 0, 0.8], [0, 0, 0]],
  //   dL/dW = (G - 1.8 u v^T) / 5 = [[-0.016, 0.2, -0.088], [0.2, 0.2, 0.2]]
  Tensor w = tensor({{3, 0, 4}, {0, 2, 0}}, f64_options(true));
  SigmaTerm term{0, tensor({0.0, 1.0}, f64_options()), tensor({1.0, 0.0, 0.0}, f64_options()), 1.0};
  power_iteration(sn_matrix(w, 0), term.u, term.v, 1);
  CHECK(max_abs_diff(term.u, tensor({1.0, 0.0}, f64_options())) < 1e-12);
  CHECK(max_abs_diff(term.v, tensor({0.6, 0.0, 0.8}, f64_options())) < 1e-12);
  Tensor sigma;
  Tensor w_sn = spectral_normalize(w, {term}, 1.0, SNBackward::ThroughSigma, &sigma);
  CHECK(sigma.item() == doctest::Approx(5.0).epsilon(1e-12));
  CHECK(max_abs_diff(w_sn, tensor({{0.6, 0, 0.8}, {0, 0.4, 0}}, f64_options())) < 1e-12);
  sum(w_sn).backward();
  CHECK(max_abs_diff(w.grad(), tensor({{-0.016, 0.2, -0.088}, {0.2, 0.2, 0.2}}, f64_options())) < 1e-12);
}

TEST_CASE("the hand-written backward equals autograd through the composed primitives") {
  for (Shape shape : {Shape{6, 4}, Shape{5, 3, 3, 3}, Shape{3, 4, 4, 4}})
    for (int64_t dim : {0, 1})
      for (bool bsn : {false, true}) {
        if (bsn && shape.size() != 4) continue;
        CAPTURE(shape_str(shape));
        CAPTURE(dim);
        CAPTURE(bsn);
        Tensor w1 = random_f64(shape, 1, true), w2 = w1.detach().clone().requires_grad_(true);
        std::vector<SigmaTerm> terms{warm_term(w1, dim, 2, 3, bsn ? 0.5 : 1.0)};
        if (bsn) terms.push_back(warm_term(w1, dim == 0 ? 1 : 0, 3, 3, 0.5));
        Tensor g = random_f64(shape, 4);
        sum(spectral_normalize(w1, terms, 1.7, SNBackward::ThroughSigma) * g).backward();
        sum(spectral_normalize_composed(w2, terms, 1.7) * g).backward();
        CHECK(max_abs_diff(w1.grad(), w2.grad()) < 1e-12);
      }
}

TEST_CASE("the operator passes float64 gradcheck for Linear, Conv2d and ConvTranspose2d weights") {
  for (Shape shape : {Shape{5, 4}, Shape{4, 3, 3, 3}, Shape{3, 4, 3, 3}})
    for (int64_t dim : {0, 1})
      for (int iterations : {1, 5}) {
        CAPTURE(shape_str(shape));
        CAPTURE(dim);
        CAPTURE(iterations);
        Tensor w = random_f64(shape, 5, true);
        std::vector<SigmaTerm> terms{warm_term(w, dim, 6, iterations)};
        GradcheckResult through_sigma = gradcheck(
            [&](const TensorList& in) { return spectral_normalize(in[0], terms, 1.0, SNBackward::ThroughSigma); }, {w});
        CHECK_MESSAGE(through_sigma.passed, through_sigma.report);
        // through_iterations: the k steps are part of the function, from a fixed starting v.
        GradcheckResult through_iterations = gradcheck(
            [&](const TensorList& in) {
              std::vector<SigmaTerm> fresh = cloned(terms);
              return spectral_normalize_through_iterations(in[0], fresh, 1.0, iterations, 1e-12);
            },
            {w});
        CHECK_MESSAGE(through_iterations.passed, through_iterations.report);
      }
}

TEST_CASE("detach_sigma differentiates W * scale / sigma with sigma held constant") {
  Tensor w = random_f64({4, 5}, 7, true);
  std::vector<SigmaTerm> terms{warm_term(w, 0, 8, 3)};
  Tensor sigma;
  spectral_normalize(w, terms, 2.0, SNBackward::DetachSigma, &sigma);
  const double frozen = sigma.item();
  // The frozen-sigma function W * 2 / sigma0 has the same value at W and the op's gradient.
  GradcheckResult r = gradcheck([frozen](const TensorList& in) { return in[0] * (2.0 / frozen); }, {w});
  CHECK_MESSAGE(r.passed, r.report);
  Tensor g = random_f64({4, 5}, 9);
  sum(spectral_normalize(w, terms, 2.0, SNBackward::DetachSigma) * g).backward();
  CHECK(max_abs_diff(w.grad(), g * (2.0 / frozen)) < 1e-12);
}

TEST_CASE("bsn and a learned gain pass gradcheck") {
  Tensor w = random_f64({4, 3, 3, 3}, 10, true);
  std::vector<SigmaTerm> terms{warm_term(w, 0, 11, 3, 0.5), warm_term(w, 1, 12, 3, 0.5)};
  Tensor gamma = full({}, 1.3, f64_options(true));
  GradcheckResult r = gradcheck(
      [&](const TensorList& in) { return spectral_normalize(in[0], terms, 1.0, SNBackward::ThroughSigma) * in[1]; },
      {w, gamma});
  CHECK_MESSAGE(r.passed, r.report);
}

TEST_CASE("clamp normalises only above its target, and is differentiable on both sides") {
  for (double target : {0.5, 100.0}) {  // sigma of a random 4x5 matrix lies in between
    CAPTURE(target);
    Linear layer(5, 4, false, default_generator(), DType::Float64);
    spectral_norm(layer, {.target = target, .variant = SNVariant::Clamp});
    layer.eval();
    Tensor w = layer.raw_param("weight");
    Tensor used = layer.param("weight");
    double sigma = exact_top_singular(sn_matrix(w.detach(), 0));
    if (sigma > target) CHECK(max_abs_diff(used, w * (target / sigma)) < 1e-6);
    else CHECK(used.same(w));
    GradcheckResult r = gradcheck(
        [&](const TensorList& in) {
          layer.raw_param("weight") = in[0];
          return layer.param("weight");
        },
        {w.detach().clone().requires_grad_(true)});
    CHECK_MESSAGE(r.passed, r.report);
  }
}

TEST_CASE("a learned gain multiplies the weight on clamp's below-target path too") {
  Linear layer(5, 4, false, default_generator(), DType::Float64);
  spectral_norm(layer, {.target = 100.0, .variant = SNVariant::Clamp, .learn_gain = true});
  {
    NoGradGuard no_grad;
    layer.raw_param("weight_gain").fill_(1.5);
  }
  layer.eval();
  Tensor w = layer.raw_param("weight");
  REQUIRE(exact_top_singular(sn_matrix(w.detach(), 0)) < 100.0);  // below the target: W itself, times gamma
  CHECK(max_abs_diff(layer.param("weight"), w * 1.5) == 0);
}

TEST_CASE("a learned gain does not multiply the weight while SN is switched off") {
  Linear layer(5, 4, false, default_generator(), DType::Float64);
  auto sn = spectral_norm(layer, {.learn_gain = true});
  {
    NoGradGuard no_grad;
    layer.raw_param("weight_gain").fill_(1.5);
  }
  sn->set_enabled(layer, false);
  CHECK(layer.param("weight").same(layer.raw_param("weight")));
}

TEST_CASE("power_until and exact reach the largest singular value of an SVD to 1e-10") {
  Linear layer(12, 9, false, default_generator(), DType::Float64);
  Tensor m = layer.raw_param("weight").detach();
  const double reference = exact_top_singular(m);
  for (SNEstimator estimator : {SNEstimator::PowerUntil, SNEstimator::Exact}) {
    Linear copy(12, 9, false, default_generator(), DType::Float64);
    {
      NoGradGuard no_grad;
      copy.raw_param("weight").copy_(m);
    }
    auto sn = spectral_norm(copy, {.estimator = estimator, .tolerance = 1e-12, .max_iterations = 10000});
    copy(zeros({1, 12}, {DType::Float64}));
    CHECK(sn->telemetry().sigma == doctest::Approx(reference).epsilon(1e-10));
  }
}

TEST_CASE("one power iteration on a rank-one matrix is exact") {
  // W = a b^T has the single singular value |a| |b|, reached from any v not orthogonal to b.
  Tensor a = tensor({1, 2, 2}, f64_options()), b = tensor({3, 0, 4, 0}, f64_options());
  Tensor w = matmul(a.unsqueeze(1), b.unsqueeze(0));
  SigmaTerm term{0, zeros({3}, f64_options()), tensor({0.3, -1, 0.2, 5}, f64_options()), 1.0};
  power_iteration(w, term.u, term.v, 1);
  CHECK(sn_sigma(w, term.u, term.v) == doctest::Approx(3.0 * 5.0).epsilon(1e-14));
  CHECK(sn_residual(w, term.u, term.v) < 1e-14);
}

TEST_CASE("sn_residual after k power iterations on a matrix with singular values 3 and 1 equals its closed form") {
  // M = [[3, 0, 0], [0, 1, 0]] from v0 = (1, 1, 1)/sqrt(3). Each step multiplies the
  // first coordinate by 3 relative to the second (M v, then M^T u), and the third dies
  // at the first v update. After k steps, with a = 9^k:
  //   v = (a, 1, 0) / sqrt(a^2 + 1),  M v = (3a, 1) / sqrt(a^2 + 1),  u = (a, 3) / sqrt(a^2 + 9)
  //   sigma = u . M v = 3 sqrt(a^2 + 1) / sqrt(a^2 + 9)
  //   r = M v - sigma u is orthogonal to the unit u, so |r|^2 = |M v|^2 - sigma^2, and
  //   residual^2 = |M v|^2 / sigma^2 - 1 = ((9a^2 + 1)(a^2 + 9) - 9 (a^2 + 1)^2) / (9 (a^2 + 1)^2)
  //              = 64 a^2 / (9 (a^2 + 1)^2),   so   residual = 8a / (3 (a^2 + 1)).
  // It falls by about (sigma_2 / sigma_1)^2 = 1/9 per step, towards 0.
  Tensor m = tensor({{3, 0, 0}, {0, 1, 0}}, f64_options());
  SigmaTerm term{0, zeros({2}, f64_options()), full({3}, 1.0 / std::sqrt(3.0), f64_options()), 1.0};
  for (int k = 1; k <= 6; ++k) {
    CAPTURE(k);
    power_iteration(m, term.u, term.v, 1);
    const double a = std::pow(9.0, k);
    CHECK(sn_sigma(m, term.u, term.v) == doctest::Approx(3 * std::sqrt(a * a + 1) / std::sqrt(a * a + 9)).epsilon(1e-14));
    CHECK(relative_error(sn_residual(m, term.u, term.v), 8 * a / (3 * (a * a + 1))) < 1e-9);
  }
}

TEST_CASE("the telemetry's residual is |M v - sigma u| / sigma of the stored vectors and the current weight") {
  Linear layer(4, 3, false, default_generator(), DType::Float64);
  auto sn = spectral_norm(layer, {.seed = 3});
  layer(ones({1, 4}, {DType::Float64}));
  {
    NoGradGuard no_grad;  // an optimiser step: the stored vectors no longer fit W exactly
    layer.raw_param("weight").add_(random_f64({3, 4}, 15), 0.2);
  }
  sn_end_step(layer);
  // Reference by plain loops over W (3 x 4, row-major), u (3) and v (4).
  const std::vector<double> w = layer.raw_param("weight").to_vector<double>();
  const std::vector<double> u = layer.buffer("weight_u").to_vector<double>();
  const std::vector<double> v = layer.buffer("weight_v").to_vector<double>();
  std::vector<double> mv(3, 0.0);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j) mv[i] += w[4 * i + j] * v[j];
  double sigma = 0;
  for (std::size_t i = 0; i < 3; ++i) sigma += u[i] * mv[i];
  double r2 = 0;
  for (std::size_t i = 0; i < 3; ++i) r2 += (mv[i] - sigma * u[i]) * (mv[i] - sigma * u[i]);
  REQUIRE(sigma > 0);
  const double expected = std::sqrt(r2) / sigma;
  REQUIRE(expected > 1e-4);  // the step moved W far enough for the residual to be a real number
  CHECK(relative_error(sn->telemetry().residual, expected) < 1e-10);
}

TEST_CASE("dim defaults to 0, and to 1 for a transposed convolution") {
  Conv2d conv(3, 4, 3);
  ConvTranspose2d deconv(3, 4, 3);
  CHECK(spectral_norm(conv)->dim() == 0);
  CHECK(spectral_norm(deconv)->dim() == 1);
  CHECK(deconv.buffer("weight_u").shape() == Shape{4});       // out channels
  CHECK(deconv.buffer("weight_v").shape() == Shape{3 * 3 * 3});  // in * kh * kw
}

TEST_CASE("several forwards before one backward each contribute their own u, v and sigma") {
  Linear layer(4, 3, false, default_generator(), DType::Float64);
  spectral_norm(layer, {.seed = 5});
  Tensor w = layer.raw_param("weight");
  Tensor x1 = random_f64({2, 4}, 13), x2 = random_f64({2, 4}, 14);
  auto snapshot = [&] {
    return SigmaTerm{0, layer.buffer("weight_u").clone(), layer.buffer("weight_v").clone(), 1.0};
  };
  Tensor y1 = layer(x1);
  SigmaTerm after_first = snapshot();
  Tensor y2 = layer(x2);  // refines u, v again
  SigmaTerm after_second = snapshot();
  CHECK(max_abs_diff(after_first.u, after_second.u) > 0);
  sum(y1 * y1 + y2).backward();
  // Reference: each forward's W_sn built from its own vectors, differentiated by autograd.
  Tensor w_ref = w.detach().clone().requires_grad_(true);
  Tensor r1 = matmul(x1, spectral_normalize_composed(w_ref, {after_first}, 1.0).t());
  Tensor r2 = matmul(x2, spectral_normalize_composed(w_ref, {after_second}, 1.0).t());
  sum(r1 * r1 + r2).backward();
  CHECK(max_abs_diff(w.grad(), w_ref.grad()) < 1e-12);
}

TEST_CASE("eval mode does not iterate, training mode does") {
  Linear layer(4, 3);
  spectral_norm(layer);
  auto perturb = [&] {  // a new weight, so that one more iteration must move u
    NoGradGuard no_grad;
    layer.raw_param("weight").add_(randn({3, 4}), 0.5);
  };
  perturb();
  layer.eval();
  std::vector<double> before = layer.buffer("weight_u").to_vector<double>();
  layer(ones({1, 4}));
  CHECK(layer.buffer("weight_u").to_vector<double>() == before);
  layer.train();
  layer(ones({1, 4}));
  CHECK(layer.buffer("weight_u").to_vector<double>() != before);
}

TEST_CASE("the normalised weight has spectral norm target") {
  Linear layer(30, 20, false, default_generator(), DType::Float64);
  spectral_norm(layer, {.target = 2.0, .estimator = SNEstimator::Exact});
  Tensor used = layer.param("weight");
  CHECK(exact_top_singular(used.detach()) == doctest::Approx(2.0).epsilon(1e-12));
}

TEST_CASE("a layer switched off and on again resumes from its stored u and v") {
  Linear layer(6, 5, false, default_generator(), DType::Float64);
  auto sn = spectral_norm(layer);
  layer(ones({1, 6}, {DType::Float64}));
  sn->set_enabled(layer, false);
  layer.eval();
  layer(ones({1, 6}, {DType::Float64}));  // off and in eval: u, v untouched
  Tensor u_stored = layer.buffer("weight_u").clone(), v_stored = layer.buffer("weight_v").clone();
  sn->set_enabled(layer, true);
  Tensor used = layer.param("weight");
  Tensor expected = spectral_normalize_composed(layer.raw_param("weight").detach(), {{0, u_stored, v_stored, 1.0}}, 1.0);
  CHECK(max_abs_diff(used, expected) < 1e-14);
}

TEST_CASE("a state dict round trip keeps u, v and the policy state") {
  Linear a(4, 3), b(4, 3);
  spectral_norm(a, {.policy = sn_policy::threshold(0.1), .seed = 1});
  auto sn_b = spectral_norm(b, {.policy = sn_policy::threshold(0.1), .seed = 2});
  for (int i = 0; i < 3; ++i) {
    a(ones({1, 4}));
    sn_end_step(a);
  }
  auto state = a.state_dict();
  CHECK(state.count("weight_u"));
  CHECK(state.count("weight_v"));
  CHECK(state.count("weight_sn_policy_state"));
  b.load_state_dict(state);
  CHECK(b.buffer("weight_u").to_vector<double>() == a.buffer("weight_u").to_vector<double>());
  CHECK(b.buffer("weight_v").to_vector<double>() == a.buffer("weight_v").to_vector<double>());
  CHECK(b.buffer("weight_sn_step").at({0}) == 3);
  CHECK(sn_b->enabled(b));  // sigma > 0.1 switched the rule on, and the state says so
  a.eval();
  b.eval();
  CHECK(a(ones({1, 4})).to_vector<double>() == b(ones({1, 4})).to_vector<double>());
}

TEST_CASE("remove_spectral_norm bakes W / sigma into a plain weight") {
  Linear layer(4, 3);
  spectral_norm(layer);
  layer.eval();
  std::vector<double> normalised = layer.param("weight").to_vector<double>();
  remove_spectral_norm(layer);
  CHECK(layer.raw_param("weight").to_vector<double>() == normalised);
  CHECK_FALSE(layer.has_buffer("weight_u"));
  CHECK(layer.state_dict().size() == 2);
  CHECK_THROWS_WITH_AS(remove_spectral_norm(layer), doctest::Contains("no spectral normalisation"), Error);
}

TEST_CASE("the operator estimator equals the top singular value of the convolution's explicit matrix") {
  for (int64_t stride : {1, 2})
    for (int64_t padding : {0, 1}) {
      CAPTURE(stride);
      CAPTURE(padding);
      Generator gen(20);
      Conv2d conv(2, 3, 3, stride, padding, false, gen, DType::Float64);
      Shape input{1, 2, 6, 6};
      // The conv's matrix: column i is conv(e_i) for the i-th basis image.
      int64_t n_in = shape_numel(input);
      std::vector<Tensor> columns;
      for (int64_t i = 0; i < n_in; ++i) {
        std::vector<double> basis(static_cast<std::size_t>(n_in), 0.0);
        basis[static_cast<std::size_t>(i)] = 1.0;
        NoGradGuard no_grad;
        columns.push_back(conv(from_vector(basis, input, {DType::Float64})).reshape({-1}));
      }
      Tensor matrix = stack(columns, 1);
      double reference = exact_top_singular(matrix);
      auto sn = spectral_norm(conv, {.estimator = SNEstimator::Operator, .operator_input_shape = input});
      // Neighbouring singular values of a convolution lie close, so power iteration needs
      // thousands of steps here (measured: 1000 leave a 5e-6 error at stride 1, padding 1).
      CHECK(sn->operator_sigma(conv, input, 8000) == doctest::Approx(reference).epsilon(1e-9));
      conv(zeros(input, {DType::Float64}));
      CHECK(sn->telemetry().operator_ratio > 0);
    }
}

TEST_CASE("spectral norm options are validated") {
  Linear layer(4, 3);
  CHECK_THROWS_WITH_AS(spectral_norm(layer, {.power_iterations = 0}), doctest::Contains("power_iterations >= 1"), Error);
  CHECK_THROWS_WITH_AS(spectral_norm(layer, {.variant = SNVariant::BSN}), doctest::Contains("4-d"), Error);
  CHECK_THROWS_WITH_AS(spectral_norm(layer, {.param = "bias2"}), doctest::Contains("no parameter"), Error);
  spectral_norm(layer);
  CHECK_THROWS_WITH_AS(spectral_norm(layer), doctest::Contains("already parametrized"), Error);
}

TEST_CASE("update once per step: forwards use the stored u, v and sn_end_step refines them") {
  Linear layer(6, 5);
  auto sn = spectral_norm(layer, {.update = SNUpdate::OncePerStep});
  {
    NoGradGuard no_grad;
    layer.raw_param("weight").add_(randn({5, 6}), 0.5);  // so that one more iteration must move u
  }
  std::vector<double> before = layer.buffer("weight_u").to_vector<double>();
  layer(ones({1, 6}));
  layer(ones({1, 6}));
  CHECK(layer.buffer("weight_u").to_vector<double>() == before);
  sn_end_step(layer);
  CHECK(layer.buffer("weight_u").to_vector<double>() != before);
  CHECK(sn->telemetry().step == 1);
}

namespace {

// Conv2d(1, 2, 3, stride 1, padding 1) on a 5 x 5 image, as plain loops (cross-
// correlation, zero outside the image): y[o][r][c] = sum_ab w[o][a][b] x[r - 1 + a][c - 1 + b].
std::vector<double> plain_conv_1to2_3x3_pad1(const std::vector<double>& w, const std::vector<double>& x) {
  std::vector<double> y(2 * 25, 0.0);
  for (int o = 0; o < 2; ++o)
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 5; ++c)
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) {
            const int xr = r - 1 + a, xc = c - 1 + b;
            if (xr < 0 || xr >= 5 || xc < 0 || xc >= 5) continue;
            y[static_cast<std::size_t>(o * 25 + r * 5 + c)] +=
                w[static_cast<std::size_t>(o * 9 + a * 3 + b)] * x[static_cast<std::size_t>(xr * 5 + xc)];
          }
  return y;
}

}  // namespace

TEST_CASE("the operator estimator's gradient over several forwards uses each forward's own vectors") {
  // Each forward k normalises by sigma_k(W) = <op_u_k, conv(op_v_k; W)> with the vectors
  // that forward refined to, held constant. The reference differentiates
  //   L(W) = sum(conv(a; W / sigma_1(W))^2) + sum(conv(b; W / sigma_2(W)))
  // numerically (central differences), with the convolution written as plain loops.
  Conv2d conv(1, 2, 3, 1, 1, false, default_generator(), DType::Float64);
  spectral_norm(conv, {.estimator = SNEstimator::Operator, .operator_input_shape = {1, 1, 5, 5}});
  Tensor a = random_f64({1, 1, 5, 5}, 16), b = random_f64({1, 1, 5, 5}, 17);
  auto snapshot = [&] {
    return std::make_pair(conv.buffer("weight_op_u").to_vector<double>(), conv.buffer("weight_op_v").to_vector<double>());
  };
  Tensor ya = conv(a);
  const auto first = snapshot();
  Tensor yb = conv(b);  // refines the vectors in place
  const auto second = snapshot();
  REQUIRE(first.first != second.first);
  sum(ya * ya + yb).backward();
  const std::vector<double> grad = conv.raw_param("weight").grad().to_vector<double>();

  const std::vector<double> xa = a.to_vector<double>(), xb = b.to_vector<double>();
  auto loss = [&](const std::vector<double>& w) {
    auto sigma = [&](const std::pair<std::vector<double>, std::vector<double>>& vectors) {
      const std::vector<double> av = plain_conv_1to2_3x3_pad1(w, vectors.second);
      double s = 0;
      for (std::size_t i = 0; i < av.size(); ++i) s += vectors.first[i] * av[i];
      return s;
    };
    const double s1 = sigma(first), s2 = sigma(second);
    double total = 0;
    for (double y : plain_conv_1to2_3x3_pad1(w, xa)) total += (y / s1) * (y / s1);
    for (double y : plain_conv_1to2_3x3_pad1(w, xb)) total += y / s2;
    return total;
  };
  const std::vector<double> w0 = conv.raw_param("weight").to_vector<double>();
  REQUIRE(grad.size() == w0.size());
  const double h = 1e-6;
  for (std::size_t k = 0; k < w0.size(); ++k) {
    CAPTURE(k);
    std::vector<double> plus = w0, minus = w0;
    plus[k] += h;
    minus[k] -= h;
    const double numeric = (loss(plus) - loss(minus)) / (2 * h);
    CHECK(grad[k] == doctest::Approx(numeric).epsilon(1e-6));
  }
}

TEST_CASE("with the operator estimator, through_iterations still refines both vector pairs in a training forward") {
  Conv2d conv(2, 3, 3, 1, 1, false, default_generator(), DType::Float64);
  spectral_norm(conv, {.backward = SNBackward::ThroughIterations, .estimator = SNEstimator::Operator,
                       .operator_input_shape = {1, 2, 5, 5}});
  {
    NoGradGuard no_grad;  // a new weight, so that one more iteration must move every vector
    conv.raw_param("weight").add_(random_f64({3, 2, 3, 3}, 18), 0.5);
  }
  const std::vector<std::string> names{"weight_u", "weight_v", "weight_op_u", "weight_op_v"};
  std::vector<Tensor> before;
  for (const std::string& name : names) before.push_back(conv.buffer(name).clone());
  conv(random_f64({1, 2, 5, 5}, 19));
  for (std::size_t i = 0; i < names.size(); ++i) {
    CAPTURE(names[i]);
    CHECK(max_abs_diff(conv.buffer(names[i]), before[i]) > 1e-6);
  }
}

TEST_CASE("with the operator estimator, through_iterations gives through_sigma's output and gradient") {
  // The in-graph iterations are for the matrix estimators; the operator estimator
  // differentiates through its sigma with its vectors held constant in either mode.
  Tensor x = random_f64({2, 2, 5, 5}, 20);
  std::vector<Tensor> outputs, grads;
  for (SNBackward backward : {SNBackward::ThroughSigma, SNBackward::ThroughIterations}) {
    Generator gen(21);
    Conv2d conv(2, 3, 3, 1, 1, false, gen, DType::Float64);
    spectral_norm(conv, {.backward = backward, .estimator = SNEstimator::Operator, .operator_input_shape = {1, 2, 5, 5}});
    Tensor y = conv(x);
    sum(y * y).backward();
    outputs.push_back(y.detach());
    grads.push_back(conv.raw_param("weight").grad());
  }
  CHECK(max_abs_diff(outputs[0], outputs[1]) == 0);
  CHECK(max_abs_diff(grads[0], grads[1]) == 0);
}

namespace {

// u, v (and the operator's pair) set to vectors far from the converged ones, as a
// freshly loaded or long-switched-off layer might have them.
void make_vectors_cold(Module& layer) {
  NoGradGuard no_grad;
  uint64_t seed = 900;
  for (const char* name : {"weight_u", "weight_v", "weight_u2", "weight_v2", "weight_op_u", "weight_op_v"}) {
    if (!layer.has_buffer(name)) continue;
    Tensor& b = layer.buffer(name);
    Generator gen(seed++);
    Tensor r = randn(b.shape(), gen, {b.dtype(), Device::cpu(), false});
    b.copy_(r * (1.0 / norm_of(r)));
  }
}

std::map<std::string, Tensor> vector_snapshot(Module& layer) {
  std::map<std::string, Tensor> out;
  for (const char* name : {"weight_u", "weight_v", "weight_u2", "weight_v2", "weight_op_u", "weight_op_v"})
    if (layer.has_buffer(name)) out[name] = layer.buffer(name).clone();
  return out;
}

// The largest change of any SN vector since `before`.
double vectors_moved(Module& layer, const std::map<std::string, Tensor>& before) {
  double moved = 0;
  for (auto& [name, t] : before) moved = std::max(moved, max_abs_diff(layer.buffer(name), t));
  return moved;
}

}  // namespace

TEST_CASE("every variant, backward mode and estimator refines u, v in every training forward from cold vectors") {
  const SNVariant variants[] = {SNVariant::Plain, SNVariant::Clamp, SNVariant::BSN};
  const SNBackward backwards[] = {SNBackward::ThroughSigma, SNBackward::DetachSigma, SNBackward::ThroughIterations};
  const SNEstimator estimators[] = {SNEstimator::Power, SNEstimator::PowerUntil, SNEstimator::Exact,
                                    SNEstimator::Operator};
  Tensor x = random_f64({2, 3, 6, 6}, 5);
  for (SNVariant variant : variants)
    for (SNBackward backward : backwards)
      for (SNEstimator estimator : estimators) {
        CAPTURE(static_cast<int>(variant));
        CAPTURE(static_cast<int>(backward));
        CAPTURE(static_cast<int>(estimator));
        Generator gen(3);
        Conv2d conv(3, 4, 3, 1, 1, false, gen, DType::Float64);
        spectral_norm(conv, {.backward = backward, .variant = variant, .estimator = estimator,
                             .operator_input_shape = {1, 3, 6, 6}});
        make_vectors_cold(conv);
        for (int forward = 0; forward < 3; ++forward) {
          auto before = vector_snapshot(conv);
          conv(x);
          CHECK(vectors_moved(conv, before) > 1e-9);
          // An optimiser step between forwards: W changes direction, not only scale, so
          // that even the exact estimator's vectors have somewhere to go.
          NoGradGuard no_grad;
          conv.raw_param("weight").add_(random_f64(conv.raw_param("weight").shape(), 40 + forward), 0.3);
        }
      }
}

TEST_CASE("clamp engages once the true sigma exceeds the target, whatever the backward mode and estimator") {
  // From cold vectors whose stale u . (M v) is below the target, with W scaled so that
  // its true sigma is 3x the target: the clamped weight must come down to the target.
  const SNBackward backwards[] = {SNBackward::ThroughSigma, SNBackward::DetachSigma, SNBackward::ThroughIterations};
  const SNEstimator estimators[] = {SNEstimator::Power, SNEstimator::PowerUntil, SNEstimator::Exact};
  Tensor x = random_f64({2, 3, 6, 6}, 5);
  for (SNBackward backward : backwards)
    for (SNEstimator estimator : estimators) {
      CAPTURE(static_cast<int>(backward));
      CAPTURE(static_cast<int>(estimator));
      Generator gen(3);
      Conv2d conv(3, 4, 3, 1, 1, false, gen, DType::Float64);
      {
        NoGradGuard no_grad;
        Tensor& w = conv.raw_param("weight");
        w.mul_(3.0 / exact_top_singular(sn_matrix(w, 0)));
      }
      spectral_norm(conv, {.backward = backward, .variant = SNVariant::Clamp, .estimator = estimator});
      make_vectors_cold(conv);
      Tensor m = sn_matrix(conv.raw_param("weight"), 0);
      REQUIRE(sn_sigma(m, conv.buffer("weight_u"), conv.buffer("weight_v")) < 1.0);  // stale sigma below target
      for (int forward = 0; forward < 40; ++forward) conv(x);
      conv.eval();
      Tensor effective = conv.param("weight").detach();
      CHECK(exact_top_singular(sn_matrix(effective, 0)) == doctest::Approx(1.0).epsilon(1e-3));
    }
}

TEST_CASE("block power iteration converges to the k largest singular values of an SVD") {
  Tensor m = random_f64({6, 9}, 70);
  Generator gen(71);
  Tensor block = randn({9, 3}, gen, f64_options());
  std::vector<double> estimate = top_singular_values(m, block, 300);
  std::vector<double> exact = exact_singular_values(m);
  REQUIRE(estimate.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(estimate[i] == doctest::Approx(exact[i]).epsilon(1e-8));
  CHECK(exact.size() == 6);
  CHECK(exact[0] == doctest::Approx(exact_top_singular(m)).epsilon(1e-12));
}

TEST_CASE("topk telemetry reports k descending values below the exact spectrum, and the block is a buffer") {
  Generator gen(4);
  Linear layer(9, 6, false, gen, DType::Float64);
  auto sn = spectral_norm(layer, {.topk = 3});
  CHECK(layer.has_buffer("weight_topk_v"));
  layer(random_f64({2, 9}, 1));
  sn_end_step(layer);
  const std::vector<double>& values = sn->telemetry().top_singular_values;
  std::vector<double> exact = sn->exact_spectrum(layer);
  REQUIRE(values.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(values[i] <= exact[i] * (1 + 1e-12));  // Ritz values bound from below
    if (i > 0) CHECK(values[i] <= values[i - 1]);
  }
  // More than min(h, w) is clamped: a (1 x 6) weight has one singular value.
  Linear single(6, 1, false, gen, DType::Float64);
  spectral_norm(single, {.topk = 4});
  CHECK(single.buffer("weight_topk_v").shape() == Shape{6, 1});
}

TEST_CASE("v_first reproduces the deprecated torch.nn.utils.spectral_norm step order") {
  // One step from (u0, v0): v1 = N(M^T u0), u1 = N(M v1), sigma = u1 . (M v1) = ||M v1||.
  Generator gen(8);
  Linear layer(5, 4, false, gen, DType::Float64);
  spectral_norm(layer, {.v_first = true});
  Tensor u0 = layer.buffer("weight_u").clone();
  Tensor m = layer.raw_param("weight").detach();
  layer(random_f64({2, 5}, 2));
  Tensor v1 = matmul(m.t(), u0.unsqueeze(1)).squeeze(1);
  v1 = v1 * (1.0 / norm_of(v1));
  Tensor mv = matmul(m, v1.unsqueeze(1)).squeeze(1);
  Tensor u1 = mv * (1.0 / norm_of(mv));
  CHECK(max_abs_diff(layer.buffer("weight_v"), v1) < 1e-14);
  CHECK(max_abs_diff(layer.buffer("weight_u"), u1) < 1e-14);
}

TEST_CASE("bsn's two sigmas are both in the telemetry, and sigma is their mean") {
  Generator gen(9);
  Conv2d conv(2, 3, 3, 1, 1, false, gen, DType::Float64);
  auto sn = spectral_norm(conv, {.variant = SNVariant::BSN});
  conv(random_f64({1, 2, 5, 5}, 3));
  const SNTelemetry& t = sn->telemetry();
  REQUIRE(t.term_sigmas.size() == 2);
  CHECK(t.sigma == doctest::Approx((t.term_sigmas[0] + t.term_sigmas[1]) / 2).epsilon(1e-12));
  Tensor w = conv.raw_param("weight").detach();
  CHECK(t.term_sigmas[1] == doctest::Approx(sn_sigma(sn_matrix(w, 1), conv.buffer("weight_u2"), conv.buffer("weight_v2"))).epsilon(1e-12));
}

TEST_CASE("block power iteration on a rank-deficient matrix reads zeros past the rank, never more than the SVD") {
  // M = a b^T + c d^T has rank 2: asked for 4 values, the last two are (numerically) 0.
  Tensor a = random_f64({6, 1}, 81), b = random_f64({1, 8}, 82), c = random_f64({6, 1}, 83), d = random_f64({1, 8}, 84);
  Tensor m = matmul(a, b) + matmul(c, d);
  Generator gen(85);
  Tensor block = randn({8, 4}, gen, f64_options());
  std::vector<double> estimate = top_singular_values(m, block, 50);
  std::vector<double> exact = exact_singular_values(m);
  CHECK(estimate[0] == doctest::Approx(exact[0]).epsilon(1e-10));
  CHECK(estimate[1] == doctest::Approx(exact[1]).epsilon(1e-10));
  for (std::size_t i = 2; i < 4; ++i) CHECK(estimate[i] <= 1e-6 * exact[0]);
}
