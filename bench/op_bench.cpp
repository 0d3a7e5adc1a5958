// Per-op micro-benchmarks at the reference models' shapes (docs/reference_models.md),
// each at 1 and 2 threads: forward alone, and forward + backward. Prints one line per
// op, shape and thread count with the median of the timed repetitions in microseconds.
//
//   build/bench/op_bench [--reps 50] [--filter conv]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "optim/adam.h"
#include "timing.h"  // bench/: the shared timing loop

using namespace sg;

namespace {

// The median of `reps` timed calls after a tenth as many warm-up calls (at least 3).
double median_us(int reps, const std::function<void()>& body) {
  return 1000 * bench::time_calls(std::max(3, reps / 10), reps, body).median_ms;
}

struct Case {
  std::string name, shape;
  std::function<Tensor()> forward;  // builds the output from leaves that require grad
};

Tensor leaf(const Shape& shape, Generator& gen) {
  Tensor t = randn(shape, gen);
  t.requires_grad_();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 50;
  std::string filter;
  CLI::App app{"Per-op micro-benchmarks at the reference models' shapes"};
  app.add_option("--reps", reps, "timed repetitions per measurement")->check(CLI::PositiveNumber);
  app.add_option("--filter", filter, "only cases whose name contains this");
  CLI11_PARSE(app, argc, argv);

  Generator gen(0);
  // MLP-GAN's largest layer and the DCGAN's layers, batch 64.
  Tensor x_mlp = leaf({64, 784}, gen), w_mlp = leaf({512, 784}, gen), b_mlp = leaf({512}, gen);
  Tensor x_d1 = leaf({64, 1, 28, 28}, gen), w_d1 = leaf({64, 1, 4, 4}, gen), b_d1 = leaf({64}, gen);
  Tensor x_d2 = leaf({64, 64, 14, 14}, gen), w_d2 = leaf({128, 64, 4, 4}, gen), b_d2 = leaf({128}, gen);
  Tensor x_g1 = leaf({64, 128, 7, 7}, gen), w_g1 = leaf({128, 64, 4, 4}, gen), b_g1 = leaf({64}, gen);
  Tensor x_g2 = leaf({64, 64, 14, 14}, gen), w_g2 = leaf({64, 1, 4, 4}, gen), b_g2 = leaf({1}, gen);
  Tensor x_bn = leaf({64, 64, 14, 14}, gen), gamma = leaf({64}, gen), beta = leaf({64}, gen);
  Tensor mean = zeros({64}), var = ones({64});
  // Spectral normalisation on a Linear(784, 512) and on the DCGAN's second D conv.
  Linear plain_layer(784, 512, true, gen), sn_layer(784, 512, true, gen);
  spectral_norm(sn_layer);
  Conv2d sn_conv(64, 128, 4, 2, 1, true, gen);
  spectral_norm(sn_conv);

  std::vector<Tensor> all_leaves = {x_mlp, w_mlp, b_mlp, x_d1, w_d1, b_d1, x_d2, w_d2, b_d2, x_g1, w_g1,
                                    b_g1, x_g2, w_g2, b_g2, x_bn, gamma, beta};
  for (Module* m : std::vector<Module*>{&plain_layer, &sn_layer, &sn_conv})
    for (const Tensor& p : m->parameters()) all_leaves.push_back(p);
  std::vector<Case> cases = {
      {"matmul", "[64,784] @ [784,512]", [&] { return matmul(x_mlp, w_mlp.t()); }},
      {"linear", "x [64,784], W [512,784], b", [&] { return linear(x_mlp, w_mlp, b_mlp); }},
      {"conv2d", "[64,1,28,28] * [64,1,4,4] s2 p1", [&] { return conv2d(x_d1, w_d1, b_d1, 2, 1); }},
      {"conv2d", "[64,64,14,14] * [128,64,4,4] s2 p1", [&] { return conv2d(x_d2, w_d2, b_d2, 2, 1); }},
      {"conv_transpose2d", "[64,128,7,7] * [128,64,4,4] s2 p1", [&] { return conv_transpose2d(x_g1, w_g1, b_g1, 2, 1); }},
      {"conv_transpose2d", "[64,64,14,14] * [64,1,4,4] s2 p1", [&] { return conv_transpose2d(x_g2, w_g2, b_g2, 2, 1); }},
      {"batch_norm", "[64,64,14,14] training", [&] { return batch_norm(x_bn, mean, var, gamma, beta, true, 0.1, 1e-5); }},
      {"leaky_relu", "[64,64,14,14]", [&] { return leaky_relu(x_bn, 0.2); }},
      {"tanh", "[64,784] (the MLP G's output)", [&] { return tanh(x_mlp); }},
      {"spectral_norm", "Linear 784->512 weight (power iteration + W/sigma)", [&] { return sn_layer.param("weight"); }},
      {"Linear layer", "784->512, x [64,784]", [&] { return plain_layer(x_mlp); }},
      {"Linear layer + SN", "784->512, x [64,784] (power iteration + sn_linear)", [&] { return sn_layer(x_mlp); }},
      {"spectral_norm", "Conv2d 64->128 4x4 weight", [&] { return sn_conv.param("weight"); }},
  };

  std::printf("%-18s %-52s %7s %12s %14s\n", "op", "shape", "threads", "forward us", "fwd+bwd us");
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Case& c : cases) {
      if (!filter.empty() && c.name.find(filter) == std::string::npos) continue;
      double forward = median_us(reps, [&] {
        NoGradGuard no_grad;
        c.forward();
      });
      Tensor grad_output;
      {
        NoGradGuard no_grad;
        grad_output = ones_like(c.forward());
      }
      double both = median_us(reps, [&] {
        for (const Tensor& t : all_leaves) t.set_grad(Tensor());  // a fresh gradient each time, not a sum
        c.forward().backward(grad_output);
      });
      std::printf("%-18s %-52s %7d %12.1f %14.1f\n", c.name.c_str(), c.shape.c_str(), threads, forward, both);
    }
    if (filter.empty() || std::string("adam").find(filter) != std::string::npos) {
      // One Adam step over the DCGAN generator's parameter sizes (0.77M values).
      std::vector<Tensor> params = {leaf({6272, 100}, gen), leaf({6272}, gen), leaf({128, 64, 4, 4}, gen),
                                    leaf({64, 1, 4, 4}, gen), leaf({6272}, gen), leaf({6272}, gen)};
      for (Tensor& p : params) p.set_grad(randn(p.shape(), gen));
      Adam adam(params, {.lr = 2e-4, .beta1 = 0.5});
      double step = median_us(reps, [&] { adam.step(); });
      std::printf("%-18s %-52s %7d %12.1f %14s\n", "adam_step", "DCGAN G parameters (0.77M values)", threads, step, "-");
    }
  }
  return 0;
}
