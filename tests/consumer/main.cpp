// A program outside sigmagrad's tree, built against it the way a user would
// (tests/consumer/check.sh): L = sum(tanh(W x)) for a 2x3 W, backward, and W's gradient
// compared with the formula dL/dW[i][j] = (1 - tanh((W x)_i)^2) x_j. The matmul makes the
// link pull in OpenBLAS too. Prints the gradient; exits 1 when it is wrong.
#include <cmath>
#include <cstdio>
#include <exception>
#include <vector>

#include "ops/ops.h"

int main() {
  try {
    const std::vector<double> w_values{0.5, -1.0, 2.0, 0.25, 0.75, -0.5};
    const std::vector<double> x_values{1.0, 2.0, -0.5};
    sg::Tensor w = sg::from_vector(w_values, {2, 3}, {sg::DType::Float64, sg::Device::cpu(), true});
    sg::Tensor x = sg::from_vector(x_values, {3, 1}, {sg::DType::Float64});
    sg::Tensor loss = sg::sum(sg::tanh(sg::matmul(w, x)));
    loss.backward();
    const std::vector<double> grad = w.grad().to_vector<double>();

    bool ok = grad.size() == 6;
    for (int i = 0; ok && i < 2; ++i) {
      double wx = 0;
      for (int j = 0; j < 3; ++j) wx += w_values[i * 3 + j] * x_values[j];
      const double t = std::tanh(wx);
      for (int j = 0; j < 3; ++j) {
        const double expected = (1 - t * t) * x_values[j];
        std::printf("dL/dW[%d][%d] = %.12f (by hand %.12f)\n", i, j, grad[i * 3 + j], expected);
        ok = ok && std::abs(grad[i * 3 + j] - expected) <= 1e-12;
      }
    }
    std::printf("L = %.12f, gradient %s\n", loss.item(), ok ? "correct" : "WRONG");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
