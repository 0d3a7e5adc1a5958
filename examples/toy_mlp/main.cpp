// A two-layer MLP learns y = sin(3x) on [-1, 1] with plain gradient descent and
// prints its loss as it falls. Everything here is sigmagrad's own tensors and
// autograd; layers and optimisers get their own modules later.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "../common/cli.h"
#include "ops/ops.h"

using namespace sg;
using namespace sg::examples;

int main(int argc, char** argv) {
  CLI::App app{"A two-layer MLP learns y = sin(3x) with hand-written gradient descent"};
  long steps = 3000;
  app.add_option("--steps", steps, "gradient-descent steps")->check(positive());
  CLI11_PARSE(app, argc, argv);

  return run_main("toy_mlp", [&] {
    // Data: 256 points of y = sin(3x).
    const int n = 256;
    std::vector<double> xs(n), ys(n);
    for (int i = 0; i < n; ++i) {
      xs[i] = -1.0 + 2.0 * i / (n - 1);
      ys[i] = std::sin(3.0 * xs[i]);
    }
    Tensor x = from_vector(xs, {n, 1}), y = from_vector(ys, {n, 1});

    // Model: 1 -> 64 -> 1 with tanh, weights scaled as 1/sqrt(fan_in).
    Generator gen(0);
    const int hidden = 64;
    Tensor w1 = randn({1, hidden}, gen).requires_grad_(true);
    Tensor b1 = zeros({hidden}, {DType::Float32, Device::cpu(), true});
    Tensor w2 = (randn({hidden, 1}, gen) * (1.0 / std::sqrt(hidden))).detach().requires_grad_(true);
    Tensor b2 = zeros({1}, {DType::Float32, Device::cpu(), true});
    std::vector<Tensor> params{w1, b1, w2, b2};

    // Gradient descent with momentum, written out by hand.
    const double lr = 0.05, momentum = 0.9;
    std::vector<Tensor> velocity;
    for (const Tensor& p : params) velocity.push_back(zeros_like(p));

    auto start = std::chrono::steady_clock::now();
    double first_loss = 0, loss_value = 0;
    for (long step = 0; step < steps; ++step) {
      Tensor prediction = add(matmul(tanh(add(matmul(x, w1), b1)), w2), b2);
      Tensor loss = mse_loss(prediction, y);
      loss.backward();
      loss_value = loss.item();
      if (step == 0) first_loss = loss_value;
      {
        NoGradGuard no_grad;
        for (std::size_t k = 0; k < params.size(); ++k) {
          velocity[k].mul_(momentum).add_(params[k].grad());
          params[k].add_(velocity[k], -lr);
          params[k].zero_grad();
        }
      }
      if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0 || step + 1 == steps)
        std::printf("step %5ld  loss %.6f\n", step, loss_value);
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("loss fell from %.4f to %.6f in %ld steps (%.2f s)\n", first_loss, loss_value, steps, seconds);
    return loss_value < first_loss ? 0 : 1;
  });
}
