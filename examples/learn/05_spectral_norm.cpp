// Lesson 5 (docs/learn/05-spectral-norm-by-hand.md): spectral normalisation by hand.
//
// sigma(W), the largest singular value of a 4 x 6 matrix, three ways: power iteration
// in a few tensor ops (the first exercise), the library's spectral_norm on a Linear
// layer with the same weight, and LAPACK's SVD. Then the gradient of sigma with
// respect to W (the second exercise), against the numerical derivative of the SVD's
// sigma and against autograd.
//
//   build/examples/learn/05_spectral_norm [--seed 5]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "examples/common/cli.h"
#include "examples/learn/learn.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"

using namespace sg;

namespace {

// One power-iteration step on columns u (4 x 1) and v (6 x 1), in place:
//     u <- W v / ||W v||,   v <- W^T u / ||W^T u||,
// and the estimate for the new pair, sigma = u . (W v), as a 0-d tensor.
Tensor power_iteration_step(const Tensor& w, Tensor& u, Tensor& v) {
  // BEGIN EXERCISE power_iteration_step
  // Each step multiplies v by W^T W and renormalises, so v turns towards the top right
  // singular vector; u = W v / ||W v|| follows it on the left. u . (W v) <= sigma always,
  // since u and v are unit vectors, with equality at the singular pair.
  Tensor wv = matmul(w, v);
  u = wv / sqrt(sum(wv * wv));
  Tensor wtu = matmul(w.t(), u);
  v = wtu / sqrt(sum(wtu * wtu));
  return sum(u * matmul(w, v));
  // END EXERCISE
}

// d sigma / d W, a matrix of W's shape, for sigma = u . (W v) with u and v held fixed.
Tensor sigma_gradient(const Tensor& u, const Tensor& v) {
  // BEGIN EXERCISE sigma_gradient
  // sigma = sum_ij u_i W_ij v_j, so d sigma / d W_ij = u_i v_j: the outer product u v^T.
  // At the exact singular pair this is also the derivative of the largest singular
  // value itself (when it is simple): moving u, v is second order there.
  return matmul(u, v.t());
  // END EXERCISE
}

// Power-iteration steps, by hand and by the library: enough for 1e-10 when sigma_2 is
// close to sigma_1 (0.95 sigma_1 for the default seed: about 0.81 per step).
constexpr int kSteps = 200;

double max_abs_difference(const Tensor& a, const Tensor& b) { return max(abs(a - b)).item(); }

std::string number(double x, int digits = 3) {
  char text[40];
  std::snprintf(text, sizeof text, "%.*g", digits, x);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Lesson 5: spectral normalisation by hand: power iteration, the library, the SVD, d sigma / dW"};
  uint64_t seed = 5;
  app.add_option("--seed", seed, "the generator of W and of the starting vector");
  CLI11_PARSE(app, argc, argv);

  return examples::run_main("05_spectral_norm", [&] {
    learn::SelfCheck check(5);
    Generator gen(seed);
    // A Linear layer 6 -> 4 in float64: its weight W is 4 x 6, M = W itself (dim 0).
    Linear layer(6, 4, /*bias=*/false, gen, DType::Float64);
    const Tensor w = layer.raw_param("weight").detach().clone();
    const std::vector<double> spectrum = exact_singular_values(w);
    const double exact = spectrum[0];
    std::printf("W is 4 x 6; its singular values by LAPACK's SVD: %s, %s, %s, %s\n", number(spectrum[0]).c_str(),
                number(spectrum[1]).c_str(), number(spectrum[2]).c_str(), number(spectrum[3]).c_str());
    // Each step multiplies v by W^T W, which shrinks v's part off the top singular vector
    // by (sigma_2 / sigma_1)^2; the estimate's error is the square of that part's size.
    std::printf("each step shrinks the estimate's error by about (sigma_2 / sigma_1)^4 = %.3g\n",
                std::pow(spectrum[1] / spectrum[0], 4));

    Tensor u, v;
    double hand_sigma = 0;
    check.part("1. Your power iteration (the exercise) against the SVD.", [&] {
      NoGradGuard no_grad;
      u = zeros({4, 1}, {DType::Float64});
      v = randn({6, 1}, gen, {DType::Float64});
      v = v / sqrt(sum(v * v));
      std::printf("   steps | sigma estimate | exact - estimate\n");
      bool never_above = true;
      for (int k = 1; k <= kSteps; ++k) {
        hand_sigma = power_iteration_step(w, u, v).item();
        never_above = never_above && hand_sigma <= exact * (1 + 1e-12);
        if (k <= 3 || k == 5 || k == 10 || k == 20 || k == 50 || k == 100 || k == kSteps)
          std::printf("   %5d | %14.10f | %.3g\n", k, hand_sigma, exact - hand_sigma);
      }
      check.expect(std::abs(hand_sigma - exact) <= 1e-10 * exact,
                   "after " + std::to_string(kSteps) + " steps your sigma " + number(hand_sigma, 12) + " is the SVD's " +
                       number(exact, 12) + " to 1e-10",
                   "u <- W v / ||W v||, then v <- W^T u / ||W^T u||, sigma = u . (W v)");
      check.expect(never_above, "no estimate exceeds the exact sigma (u . W v <= sigma for unit u, v)",
                   "are u and v normalised to length 1?");
    });

    check.part("2. The library's spectral_norm on the same layer: W_sn = W / sigma.", [&] {
      auto sn = spectral_norm(layer, {.power_iterations = 1});  // u, v warmed by 15 steps when attached
      Tensor w_sn;
      for (int read = 0; read < kSteps; ++read) w_sn = layer.param("weight");  // each read in training mode: 1 step
      const double library_sigma = sn->telemetry().sigma;
      std::printf("   library sigma after 15 + %d steps: %.12f (yours %.12f, SVD %.12f)\n", kSteps, library_sigma,
                  hand_sigma, sn->exact_sigma(layer));
      // Yours, when part 1 gave one; the SVD's otherwise, so that this part checks the library alone.
      const double reference = hand_sigma > 0 ? hand_sigma : exact;
      const std::string whose = hand_sigma > 0 ? "yours" : "the SVD's (yours is missing: part 1 did not finish)";
      check.expect(std::abs(library_sigma - reference) <= 1e-10 * exact, "the library's sigma equals " + whose +
                                                                              " to 1e-10");
      NoGradGuard no_grad;
      check.expect(max_abs_difference(w_sn, w / reference) <= 1e-10,
                   "the layer computes with W / sigma: W / " + whose + " to 1e-10");
      check.expect(std::abs(exact_top_singular(w_sn.detach()) - 1) <= 1e-10,
                   "the normalised weight's largest singular value is 1");
    });

    check.part("3. d sigma / d W: your formula (the exercise) against two others.", [&] {
      const Tensor mine = sigma_gradient(u, v);
      // Against autograd: sigma = u . (W v) with u, v constants, differentiated in W.
      Tensor w_leaf = w.clone().requires_grad_(true);
      sum(u * matmul(w_leaf, v)).backward();
      check.expect(max_abs_difference(mine, w_leaf.grad()) <= 1e-14,
                   "it equals autograd's gradient of u . (W v) in W",
                   "sigma = sum_ij u_i W_ij v_j: which u and v entries multiply W_ij?");
      // Against the SVD: central differences of the exact sigma, entry by entry.
      std::vector<double> numerical(24);
      const double h = 1e-6;
      for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 6; ++j) {
          Tensor plus = w.clone(), minus = w.clone();
          plus.narrow(0, i, 1).narrow(1, j, 1).add_(full({1, 1}, h, {DType::Float64}));
          minus.narrow(0, i, 1).narrow(1, j, 1).add_(full({1, 1}, -h, {DType::Float64}));
          numerical[i * 6 + j] = (exact_top_singular(plus) - exact_top_singular(minus)) / (2 * h);
        }
      const double difference = max_abs_difference(mine, from_vector(numerical, {4, 6}, {DType::Float64}));
      std::printf("   largest |yours - numerical derivative of the SVD's sigma| over the 24 entries: %.2g\n",
                  difference);
      check.expect(difference <= 1e-7, "it is the derivative of the exact sigma (central differences, h 1e-6)");
    });
    return check.finish();
  });
}
