// Each fast CPU kernel (FastKernels, kernels/kernels.h) against the textbook computation
// written in its op's file, on this machine: the same op is run twice, once as usual and
// once under a ReferencePathGuard, and the outputs and every gradient must agree. The
// textbook paths are what the GPU runs, so these tests also check, on every machine, the
// maths the CUDA backend relies on. float64 throughout: the two paths add in different
// orders, so they agree to rounding (1e-12 relative), not bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <optional>

#include "core/parallel.h"
#include "kernels/fast_math.h"
#include "kernels/kernels.h"
#include "layers/linear.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"

using namespace sg;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, gen, {DType::Float64, Device::cpu(), true});
}

// max |a - b| / (1 + max |b|)
double relative_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    diff = std::max(diff, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return diff / (1 + scale);
}

struct Run {
  Tensor output;
  std::vector<Tensor> grads;
};

// f(inputs), then the gradients of <f, probe> for a fixed random probe (so that every
// output element weighs differently in the gradients).
Run run(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs) t.zero_grad();
  Tensor out = f(inputs);
  Generator gen(99);
  Tensor probe = randn(out.shape(), gen, {DType::Float64});
  sum(mul(out, probe)).backward();
  Run r{out.detach(), {}};
  for (const Tensor& t : inputs) r.grads.push_back(t.grad());
  return r;
}

void check_fast_equals_reference(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                 const std::vector<Tensor>& inputs) {
  Run fast = run(f, inputs);
  Run reference;
  {
    ReferencePathGuard textbook;
    reference = run(f, inputs);
  }
  CHECK(relative_difference(fast.output, reference.output) < 1e-12);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    CAPTURE(i);
    REQUIRE(fast.grads[i].defined());
    CHECK(relative_difference(fast.grads[i], reference.grads[i]) < 1e-12);
  }
}

}  // namespace

TEST_CASE("the CPU offers fast kernels, and a ReferencePathGuard turns them off") {
  // Without this, every comparison below could compare a path with itself.
  const FastKernels* fast = fast_kernels_for(Device::cpu());
  REQUIRE(fast != nullptr);
  CHECK(static_cast<bool>(fast->conv2d_forward));
  CHECK(static_cast<bool>(fast->linear_forward));
  CHECK(static_cast<bool>(fast->power_iteration));
  CHECK(static_cast<bool>(fast->sn_linear_forward));
  {
    ReferencePathGuard textbook;
    CHECK(fast_kernels_for(Device::cpu()) == nullptr);
  }
  CHECK(fast_kernels_for(Device::cpu()) == fast);
}

TEST_CASE("conv2d: the grouped CPU kernel equals the whole-batch GEMMs, forward and every gradient") {
  struct Case {
    int64_t n, c, h, o, k, stride, padding;
  };
  // Batches of 1 and 5 (not a multiple of the threads), strides 1 and 2, kernels 3 and 4,
  // with and without padding: the DCGAN discriminator's layers and odd ones.
  for (Case cs : {Case{1, 1, 7, 2, 3, 1, 0}, Case{5, 3, 9, 4, 3, 1, 1}, Case{5, 2, 10, 3, 4, 2, 1},
                  Case{3, 4, 8, 2, 4, 2, 0}}) {
    CAPTURE(cs.n);
    CAPTURE(cs.stride);
    CAPTURE(cs.padding);
    Tensor x = random_tensor({cs.n, cs.c, cs.h, cs.h}, 1), w = random_tensor({cs.o, cs.c, cs.k, cs.k}, 2),
           b = random_tensor({cs.o}, 3);
    check_fast_equals_reference(
        [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], cs.stride, cs.padding); }, {x, w, b});
  }
}

TEST_CASE("conv_transpose2d: the grouped CPU kernel equals the whole-batch GEMMs, forward and every gradient") {
  struct Case {
    int64_t n, c, h, o, k, stride, padding;
  };
  for (Case cs : {Case{1, 2, 4, 1, 4, 2, 1}, Case{5, 3, 7, 2, 4, 2, 1}, Case{3, 2, 5, 3, 3, 1, 0}}) {
    CAPTURE(cs.n);
    CAPTURE(cs.stride);
    Tensor x = random_tensor({cs.n, cs.c, cs.h, cs.h}, 4), w = random_tensor({cs.c, cs.o, cs.k, cs.k}, 5),
           b = random_tensor({cs.o}, 6);
    check_fast_equals_reference(
        [&](const std::vector<Tensor>& in) { return conv_transpose2d(in[0], in[1], in[2], cs.stride, cs.padding); },
        {x, w, b});
  }
}

TEST_CASE("linear: the bias-in-GEMM CPU kernel equals matmul plus bias, forward and every gradient") {
  Tensor x = random_tensor({7, 5}, 7), w = random_tensor({3, 5}, 8), b = random_tensor({3}, 9);
  check_fast_equals_reference([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {x, w, b});
  check_fast_equals_reference([](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor()); }, {x, w});
}

namespace {
// `iterations` steps of the CPU's GEMV kernel and of the tensor-op iteration from the same
// random start on a random (h x w) matrix: the same vectors and sigma. Returns the
// matrix and the fast path's final pair and sigma.
struct PowerIterationRun {
  Tensor m, u, v;
  double sigma;
};
PowerIterationRun check_power_iteration_paths_agree(int64_t h, int64_t w, int iterations, uint64_t seed) {
  Tensor m = random_tensor({h, w}, seed).detach();
  Generator gen(seed + 1);
  Tensor u0 = randn({h}, gen, {DType::Float64}), v0 = randn({w}, gen, {DType::Float64});
  Tensor u_fast = u0.clone(), v_fast = v0.clone(), u_ref = u0.clone(), v_ref = v0.clone();
  const double sigma_fast = power_iteration(m, u_fast, v_fast, iterations, 1e-12).item();
  double sigma_ref = 0;
  {
    ReferencePathGuard textbook;
    sigma_ref = power_iteration(m, u_ref, v_ref, iterations, 1e-12).item();
  }
  CHECK(relative_difference(u_fast, u_ref) < 1e-12);
  CHECK(relative_difference(v_fast, v_ref) < 1e-12);
  CHECK(sigma_fast == doctest::Approx(sigma_ref).epsilon(1e-12));
  return {m, u_fast, v_fast, sigma_fast};
}
}  // namespace

TEST_CASE("power iteration: the GEMV kernel on the buffers equals the tensor-op iteration, vectors and sigma") {
  const PowerIterationRun run = check_power_iteration_paths_agree(6, 9, 5, 10);
  // Both are an estimate of the top singular value: after 5 steps from a random start it
  // is below the exact one (the Rayleigh quotient never exceeds it), and not far off.
  const double exact = exact_top_singular(run.m);
  CHECK(run.sigma <= exact * (1 + 1e-12));
  CHECK(run.sigma > 0.5 * exact);
}

TEST_CASE("power iteration: the GEMV kernel split across two threads equals the tensor-op iteration") {
  // 64 x 1024: both GEMVs (M v by rows, M^T u by columns) are split into two blocks.
  struct Threads {
    int saved = num_threads();
    Threads() { set_num_threads(2); }
    ~Threads() { set_num_threads(saved); }
  } two_threads;
  const PowerIterationRun run = check_power_iteration_paths_agree(64, 1024, 3, 17);
  // sigma read off the last step equals u . (M v) for the final pair (ops/spectral_norm.h).
  CHECK(run.sigma == doctest::Approx(sn_sigma(run.m, run.u, run.v)).epsilon(1e-12));
}

TEST_CASE("power iteration: a zero matrix gives u = v = 0 and sigma = 0 on both paths, not NaN") {
  // M v = 0, so u = 0 / max(0, eps) = 0; then M^T u = 0, so v = 0, and sigma = 0^2 / eps = 0.
  for (bool textbook : {false, true}) {
    CAPTURE(textbook);
    std::optional<ReferencePathGuard> guard;
    if (textbook) guard.emplace();
    Tensor m = zeros({3, 4}, {DType::Float64});
    Tensor u = ones({3}, {DType::Float64}), v = ones({4}, {DType::Float64});
    CHECK(power_iteration(m, u, v, 2, 1e-12).item() == 0.0);
    CHECK(u.to_vector<double>() == std::vector<double>(3, 0.0));
    CHECK(v.to_vector<double>() == std::vector<double>(4, 0.0));
  }
}

TEST_CASE("power iteration: zero steps leave u and v as they are and give u . (M v), on both paths") {
  Tensor m = random_tensor({4, 3}, 14).detach();
  Generator gen(15);
  Tensor u = randn({4}, gen, {DType::Float64}), v = randn({3}, gen, {DType::Float64});
  const std::vector<double> u_before = u.to_vector<double>(), v_before = v.to_vector<double>();
  // u . (M v) summed here by hand over the entries: sum_ij u_i M_ij v_j.
  const std::vector<double> mv = m.to_vector<double>();
  double expected = 0;
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 3; ++j) expected += u_before[i] * mv[i * 3 + j] * v_before[j];
  CHECK(power_iteration(m, u, v, 0).item() == doctest::Approx(expected).epsilon(1e-14));
  {
    ReferencePathGuard textbook;
    CHECK(power_iteration(m, u, v, 0).item() == doctest::Approx(expected).epsilon(1e-14));
  }
  CHECK(u.to_vector<double>() == u_before);
  CHECK(v.to_vector<double>() == v_before);
}

TEST_CASE("power iteration: vectors of the wrong length or dtype are refused on both paths, naming the shapes") {
  Tensor m = random_tensor({4, 3}, 16).detach();
  Tensor u = ones({4}, {DType::Float64}), v = ones({3}, {DType::Float64});
  Tensor short_v = ones({2}, {DType::Float64}), float_u = ones({4}, {DType::Float32});
  for (bool textbook : {false, true}) {
    CAPTURE(textbook);
    std::optional<ReferencePathGuard> guard;
    if (textbook) guard.emplace();
    CHECK_THROWS_WITH_AS(power_iteration(m, u, short_v, 1), doctest::Contains("for a 4x3 matrix, expected u of shape "
                                                                              "[4] and v of shape [3], got [4] and [2]"),
                         Error);
    CHECK_THROWS_WITH_AS(power_iteration(m, float_u, v, 1), doctest::Contains("expected u and v of the matrix's dtype"),
                         Error);
    CHECK_THROWS_WITH_AS(power_iteration(m, u, v, -1), doctest::Contains("expected iterations >= 0, got -1"), Error);
  }
}

TEST_CASE("spectral_normalize's backward: the two-pass rank-one kernel equals the composed backward") {
  Tensor w = random_tensor({5, 8}, 12);
  Generator gen(13);
  Tensor u = randn({5}, gen, {DType::Float64}), v = randn({8}, gen, {DType::Float64});
  power_iteration(w, u, v, 3, 1e-12);  // a realistic u, v pair: the kernel must not assume exact ones
  for (double scale : {1.0, 0.7}) {
    CAPTURE(scale);
    check_fast_equals_reference(
        [&](const std::vector<Tensor>& in) {
          return spectral_normalize(in[0], {SigmaTerm{0, u, v, 1.0}}, scale, SNBackward::ThroughSigma);
        },
        {w});
  }
}

TEST_CASE("sn_linear: 1/sigma in the GEMM and the rank-one term in the weight-gradient GEMM equal "
          "spectral_normalize then linear") {
  struct Case {
    int64_t n, in, out;
    bool bias, transposed_weight;
  };
  // The MLP's shapes in small, one output (a 1-long u), one sample, a weight read transposed.
  for (Case cs : {Case{7, 5, 3, true, false}, Case{6, 9, 1, true, false}, Case{1, 4, 6, false, false},
                  Case{5, 6, 4, true, true}}) {
    CAPTURE(cs.n);
    CAPTURE(cs.out);
    CAPTURE(cs.transposed_weight);
    Tensor x = random_tensor({cs.n, cs.in}, 14), b = random_tensor({cs.out}, 16);
    Tensor w = cs.transposed_weight ? random_tensor({cs.in, cs.out}, 15).detach().t().requires_grad_(true)
                                    : random_tensor({cs.out, cs.in}, 15);
    Generator gen(17);
    Tensor u = randn({cs.out}, gen, {DType::Float64}), v = randn({cs.in}, gen, {DType::Float64});
    power_iteration(w.detach(), u, v, 3, 1e-12);  // realistic, not exact, singular vectors
    for (SNBackward mode : {SNBackward::ThroughSigma, SNBackward::DetachSigma})
      for (double scale : {1.0, 0.7})
        for (double term_weight : {1.0, 0.5}) {
          CAPTURE(static_cast<int>(mode));
          CAPTURE(scale);
          CAPTURE(term_weight);
          const std::vector<SigmaTerm> terms{SigmaTerm{0, u, v, term_weight}};
          if (cs.bias)
            check_fast_equals_reference(
                [&](const std::vector<Tensor>& in) { return sn_linear(in[0], in[1], in[2], terms, scale, mode); },
                {x, w, b});
          else
            check_fast_equals_reference(
                [&](const std::vector<Tensor>& in) { return sn_linear(in[0], in[1], Tensor(), terms, scale, mode); },
                {x, w});
        }
  }
}

TEST_CASE("sn_linear: where x W^T overflows but x W_sn^T does not, the kernel declines and the textbook path runs") {
  // float32 weights and inputs near 1e20 (a diverging run): x W^T is about 1e40.
  Generator gen(18);
  Tensor x = (randn({3, 4}, gen, {DType::Float64}) * 1e20).to(DType::Float32);
  Tensor w = (randn({2, 4}, gen, {DType::Float64}) * 1e20).to(DType::Float32).requires_grad_(true);
  Tensor u = randn({2}, gen, {DType::Float32}), v = randn({4}, gen, {DType::Float32});
  power_iteration(w.detach(), u, v, 10, 1e-12);
  const std::vector<SigmaTerm> terms{SigmaTerm{0, u, v, 1.0}};
  Tensor y = sn_linear(x, w, Tensor(), terms, 1.0, SNBackward::ThroughSigma), y_reference;
  {
    ReferencePathGuard textbook;
    y_reference = sn_linear(x, w, Tensor(), terms, 1.0, SNBackward::ThroughSigma);
  }
  CHECK(y.grad_fn()->name() == "linear");  // W_sn written out: spectral_norm, then linear
  std::vector<double> values = y.detach().to(DType::Float64).to_vector<double>();
  for (double value : values) CHECK(std::isfinite(value));
  CHECK(relative_difference(y.detach().to(DType::Float64), y_reference.detach().to(DType::Float64)) < 1e-5);
}

TEST_CASE("a Linear layer with spectral norm: the folded kernel equals the layer on the textbook path, "
          "through two forwards, one backward and the u, v updates") {
  // Two identical layers (same seed), one on each path; as in a GAN's D step, two
  // forwards (each refines u, v) feed one backward.
  for (SNBackward mode : {SNBackward::ThroughSigma, SNBackward::DetachSigma}) {
    CAPTURE(static_cast<int>(mode));
    auto make = [mode] {
      Generator gen(21);
      auto layer = std::make_shared<Linear>(9, 6, true, gen, DType::Float64);
      spectral_norm(*layer, {.backward = mode, .seed = 22});
      return layer;
    };
    auto fast = make(), reference = make();
    Tensor a = random_tensor({5, 9}, 23), b = random_tensor({4, 9}, 24);
    Generator gen(25);
    Tensor ga = randn({5, 6}, gen, {DType::Float64}), gb = randn({4, 6}, gen, {DType::Float64});
    auto step = [&](Linear& layer) {
      a.set_grad(Tensor());
      b.set_grad(Tensor());
      (sum(mul(layer(a), ga)) + sum(mul(layer(b), gb))).backward();
    };
    step(*fast);
    Tensor fast_da = a.grad().clone(), fast_db = b.grad().clone();
    {
      ReferencePathGuard textbook;
      step(*reference);
    }
    CHECK(relative_difference(fast->raw_param("weight").grad(), reference->raw_param("weight").grad()) < 1e-12);
    CHECK(relative_difference(fast->raw_param("bias").grad(), reference->raw_param("bias").grad()) < 1e-12);
    CHECK(relative_difference(fast_da, a.grad()) < 1e-12);
    CHECK(relative_difference(fast_db, b.grad()) < 1e-12);
    CHECK(relative_difference(fast->buffer("weight_u"), reference->buffer("weight_u")) < 1e-12);
    CHECK(relative_difference(fast->buffer("weight_v"), reference->buffer("weight_v")) < 1e-12);
    CHECK(fast->buffer("weight_sigma").item() == doctest::Approx(reference->buffer("weight_sigma").item()).epsilon(1e-12));
    // The fast layer ran as one node; the reference one as W_sn, then linear.
    {
      Tensor y_fast = (*fast)(a), y_reference;
      {
        ReferencePathGuard textbook;
        y_reference = (*reference)(a);
      }
      CHECK(y_fast.grad_fn()->name() == "sn_linear");
      CHECK(y_reference.grad_fn()->name() == "linear");
    }
    // And the layer's output is the composition the parametrization describes.
    NoGradGuard no_grad;
    fast->eval();
    CHECK(relative_difference((*fast)(a), linear(a, fast->param("weight"), fast->param("bias"))) < 1e-12);
  }
}

// kernels/fast_math.h: the CPU's float32 tanh, a loop the compiler vectorises, against
// std::tanh in double precision. Every float in [-12, 12] at steps of 1e-5 (2.4 million
// values) is within 4 units in the last place of the correctly rounded value (the series
// and the exponential's Taylor terms each leave under 1e-8 relative; the rest is float
// rounding, measured at 3.99 ulp at worst, near x = -0.498).
TEST_CASE("fast tanh: within 4 ulp of std::tanh over [-12, 12], and exact at 0, -0, +-inf and NaN") {
  double worst_ulps = 0, worst_x = 0;
  for (double x = -12; x <= 12; x += 1e-5) {
    const float xf = static_cast<float>(x);
    const float reference = static_cast<float>(std::tanh(static_cast<double>(xf)));
    const double ulp = std::nextafter(std::fabs(reference), 2.0f) - std::fabs(reference);
    const double ulps = std::fabs(fast_math::tanh(xf) - static_cast<double>(std::tanh(static_cast<double>(xf)))) /
                        (ulp > 0 ? ulp : 1e-45);
    if (ulps > worst_ulps) worst_ulps = ulps, worst_x = xf;
  }
  INFO("worst at x = " << worst_x);
  CHECK(worst_ulps <= 4.0);
  CHECK(fast_math::tanh(0.0f) == 0.0f);
  CHECK(std::signbit(fast_math::tanh(-0.0f)));
  CHECK(fast_math::tanh(1e-30f) == 1e-30f);  // tanh x = x to float precision near 0
  CHECK(fast_math::tanh(INFINITY) == 1.0f);
  CHECK(fast_math::tanh(-INFINITY) == -1.0f);
  CHECK(std::isnan(fast_math::tanh(NAN)));
}

TEST_CASE("tanh on the CPU: float32 takes the fast tanh, float64 keeps std::tanh") {
  Tensor x32 = from_vector(std::vector<float>{-3.0f, -0.5f, 0.25f, 2.0f});
  Tensor x64 = from_vector(std::vector<double>{-3.0, -0.5, 0.25, 2.0}, {DType::Float64});
  const std::vector<float> y32 = tanh(x32).to_vector<float>();
  const std::vector<double> y64 = tanh(x64).to_vector<double>();
  // The check below tells the two float32 functions apart only where they differ.
  bool some_differ = false;
  for (float x : x32.to_vector<float>()) some_differ |= fast_math::tanh(x) != std::tanh(x);
  REQUIRE(some_differ);
  for (std::size_t i = 0; i < y32.size(); ++i) {
    CHECK(y32[i] == fast_math::tanh(x32.to_vector<float>()[i]));
    CHECK(y64[i] == std::tanh(x64.to_vector<double>()[i]));
  }
}
