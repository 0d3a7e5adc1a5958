// A tour of spectral normalisation (SN) for learners.
//
// 1. Power iteration on real layers: how fast the estimate u . (M v) reaches the
//    largest singular value that an SVD computes.
// 2. spectral_norm() on the DCGAN discriminator's second convolution: the normalised
//    weight has sigma ~1, but the convolution as an operator on images has a
//    different norm (it depends on stride, padding and the input size).
// 3. A policy in action: sn_policy::threshold switches SN on and off as a
//    layer's sigma rises and falls.
// 4. How Lipschitz is an SN discriminator really? The Lipschitz report of the
//    reference DCGAN's D with SN on every layer: per layer the reshaped sigma, the
//    operator norm from below and a certified bound from above, and their product.
//
// The maths and every option: docs/spectral_norm.md.
//
//   build/examples/sn_tour
#include <chrono>
#include <cmath>
#include <cstdio>
#include <initializer_list>

#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "tools/lipschitz.h"
#include "../mnist_gan/models.h"

using namespace sg;

namespace {

// x / ||x||: a random starting vector for power iteration.
Tensor unit(const Tensor& x) { return x * (1.0 / std::sqrt(sum(x * x).item())); }

// Runs power iteration on M = sn_matrix(weight, 0) from random unit u, v and prints
// the estimate after 0, 1, 2, 3, 5, 10, 15, 30 steps next to the exact value.
void power_iteration_table(const char* title, const Tensor& weight, uint64_t seed) {
  Tensor m = sn_matrix(weight.detach(), 0);
  const double exact = exact_top_singular(m);
  Generator gen(seed);
  TensorOptions options{m.dtype(), m.device(), false};
  Tensor u = unit(randn({m.shape()[0]}, gen, options));
  Tensor v = unit(randn({m.shape()[1]}, gen, options));

  std::printf("%s: M is %lld x %lld\n", title, static_cast<long long>(m.shape()[0]),
              static_cast<long long>(m.shape()[1]));
  std::printf("  iterations | sigma estimate | exact sigma (SVD) | relative error | residual\n");
  std::printf("  -----------+----------------+-------------------+----------------+---------\n");
  int done = 0;
  for (int k : {0, 1, 2, 3, 5, 10, 15, 30}) {
    power_iteration(m, u, v, k - done);  // continue from where the last row stopped
    done = k;
    const double sigma = sn_sigma(m, u, v);
    std::printf("  %10d | %14.6f | %17.6f | %14.2e | %8.2e\n", k, sigma, exact, std::abs(sigma - exact) / exact,
                sn_residual(m, u, v));
  }
  std::printf("\n");
}

// Part 2: attach SN to the conv layer and compare the matrix and operator views.
void conv_with_spectral_norm(Conv2d& conv) {
  auto sn = spectral_norm(conv);  // default options: Plain, Power, 1 iteration per forward
  std::printf("attached: %s\n", sn->describe().c_str());
  const double matrix_sigma = sn->exact_sigma(conv);  // SVD of the raw W's matrix
  std::printf("  exact sigma of W (SVD): %.6f\n", matrix_sigma);
  // u, v start warm (15 iterations at attach time) and persist: each training-mode
  // read of the weight (each forward) refines them by power_iterations = 1 step.
  std::printf("  power iterations so far | sigma estimate | exact sigma of W_sn = W / estimate\n");
  auto print_row = [&](int total, const Tensor& w_sn) {
    std::printf("  %23d | %14.6f | %.6f\n", total, sn->telemetry().sigma, exact_top_singular(sn_matrix(w_sn.detach(), 0)));
  };
  conv.eval();  // eval mode: reading the weight does not refine u, v
  print_row(15, conv.param("weight"));  // param() is what forward() computes with
  conv.train();  // training mode: every read (every forward) refines u, v by one step
  int total = 15;
  for (int target : {16, 30, 100}) {
    Tensor w_sn;
    while (total < target) {
      w_sn = conv.param("weight");
      ++total;
    }
    print_row(total, w_sn);
  }

  // The convolution as a linear map on (1, 64, 14, 14) images is not the matrix M:
  // its norm (power iteration through conv2d and its adjoint) depends on stride,
  // padding and input size. It converges slowly, so a few counts are shown.
  const Shape input{1, 64, 14, 14};
  std::printf("  operator norm of conv(W) on (1, 64, 14, 14):\n");
  std::printf("  iterations | operator sigma | operator / matrix | seconds\n");
  double ratio = 0;
  for (int iterations : {50, 100, 200, 400}) {
    auto start = std::chrono::steady_clock::now();
    const double operator_norm = sn->operator_sigma(conv, input, iterations);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ratio = operator_norm / matrix_sigma;
    std::printf("  %10d | %14.6f | %17.4f | %7.2f\n", iterations, operator_norm, ratio, seconds);
  }
  // Power iteration only ever approaches the norm from below; the certified bound
  // (ops/conv_norm.h: the exact norm of the circular convolution on a slightly larger
  // canvas, which contains the zero-padded one) comes from above.
  auto start = std::chrono::steady_clock::now();
  const double certified = sn->certified_sigma(conv, input);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  certified upper bound   | %14.6f | %17.4f | %7.2f\n", certified, certified / matrix_sigma, seconds);
  // The operator is linear in W, so W / sigma(M) as this convolution has norm `ratio`.
  std::printf("  so W / sigma(M), applied as this convolution, has norm between %.4f and %.4f, not 1\n\n", ratio,
              certified / matrix_sigma);
}

// Part 3: a Linear layer whose weight is rescaled to a chosen sigma before each step.
void threshold_policy_demo() {
  Generator gen(0);
  Linear layer(16, 8, false, gen, DType::Float64);
  auto sn = spectral_norm(layer, {.policy = sn_policy::threshold(/*sigma_above=*/2.0, /*growth_above=*/1e9,
                                                                 /*hysteresis=*/0.5)});
  std::printf("policy: %s, hysteresis 0.5 (on above 2.0, off again below 1.5 once sigma stops growing)\n",
              sn->policy().name().c_str());
  std::printf("  step | sigma(W) set | SN this step | sigma of used weight | sigma estimate | SN next step\n");
  std::printf("  -----+--------------+--------------+----------------------+----------------+-------------\n");
  int step = 0;
  for (double target : {1.0, 1.5, 2.5, 3.0, 2.0, 1.8, 1.4, 1.0}) {
    {
      NoGradGuard no_grad;  // an "optimiser step" that moves sigma(W) to target
      Tensor& w = layer.raw_param("weight");
      w.mul_(target / exact_top_singular(w.detach()));
    }
    const bool on = sn->enabled(layer);
    Tensor used = layer.param("weight");  // what forward() computes with (refines u, v in training mode)
    const double used_sigma = exact_top_singular(used.detach());
    sn_end_step(layer);  // after the optimiser step: telemetry, then the policy decides
    std::printf("  %4d | %12.2f | %12s | %20.4f | %14.4f | %s\n", step++, target, on ? "on" : "off", used_sigma,
                sn->telemetry().sigma, sn->enabled(layer) ? "on" : "off");
  }
}

// Part 4: the reference DCGAN discriminator with SN on every weight layer.
void lipschitz_of_sn_discriminator() {
  Generator gen(0);
  std::shared_ptr<Sequential> d = examples::make_discriminator("dcgan", gen);
  for (auto& [name, child] : d->children())
    if (child->has_param("weight")) spectral_norm(*child);
  Tensor inputs = uniform({64, 1, 28, 28}, -1, 1, gen);  // noise images: any input gives a lower bound
  LipschitzReport report = lipschitz_report(*d, {1, 1, 28, 28}, inputs);
  std::printf("%s", report.table().c_str());
  std::printf("  every layer has reshaped sigma ~1, yet the network is up to %.2f-Lipschitz: the reshaped\n"
              "  kernel's sigma under-estimates a strided convolution's norm (LeakyReLU and Flatten are\n"
              "  1-Lipschitz)\n",
              report.certified_bound);
}

}  // namespace

int main() {
  try {
    std::printf("Spectral normalisation tour (docs/spectral_norm.md)\n\n");
    std::printf("1. Power iteration: u <- N(M v), v <- N(M^T u), sigma = u . (M v)\n");
    std::printf("   residual = ||M v - sigma u|| / sigma (0 for an exact singular pair)\n\n");
    Generator gen(0);
    Conv2d conv(64, 128, 4, 2, 1, true, gen);  // the DCGAN discriminator's second conv
    power_iteration_table("Conv2d(64, 128, 4, 2, 1)", conv.raw_param("weight"), 1);
    Linear fc(784, 512, true, gen);  // the MLP discriminator's first layer
    power_iteration_table("Linear(784, 512)", fc.raw_param("weight"), 2);
    Linear head(6272, 1, true, gen);  // the DCGAN discriminator's last layer
    power_iteration_table("Linear(6272, 1) (one row: one iteration is exact)", head.raw_param("weight"), 3);
    std::printf("   (its residual is ~0 even at 0 iterations: with one row, u = +-1 and M v = sigma u always;\n"
                "    the residual presumes M^T u = sigma v, which only a v update makes true)\n\n");

    std::printf("2. spectral_norm() on Conv2d(64, 128, 4, 2, 1)\n");
    conv_with_spectral_norm(conv);

    std::printf("3. A policy in action\n");
    threshold_policy_demo();

    std::printf("\n4. How Lipschitz is an SN discriminator? (tools/lipschitz.h)\n");
    lipschitz_of_sn_discriminator();
    return 0;
  } catch (const std::exception& e) {  // any failure: one line, exit code 1
    std::fprintf(stderr, "sn_tour: %s\n", e.what());
    return 1;
  }
}
