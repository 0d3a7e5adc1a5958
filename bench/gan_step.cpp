// Times one training iteration (D step + G step, docs/reference_models.md) of the
// DCGAN-MNIST or MLP-GAN on random data: 20 warm-up iterations, then N timed ones;
// prints min / median / max milliseconds.
//
//   build/bench/gan_step --model dcgan --device cuda --sn 1 --iters 100
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "../examples/mnist_gan/models.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "optim/adam.h"
#include "timing.h"  // bench/: the shared timing loop

using namespace sg;
using namespace sg::examples;

int main(int argc, char** argv) {
  std::string model = "dcgan", device_name = "cpu";
  int iters = 100, warmup = 20, sn = 1;
  int64_t batch = 64;
  CLI::App app{"Time one GAN training iteration"};
  app.add_option("--model", model)->check(CLI::IsMember({"dcgan", "mlp"}));
  app.add_option("--device", device_name)->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--sn", sn, "1: spectral norm on every D layer, 0: none");
  app.add_option("--iters", iters)->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup);
  app.add_option("--batch", batch)->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    Device device = device_name == "cuda" ? Device::cuda() : Device::cpu();
    Generator gen(0);
    auto g = make_generator(model, gen);
    auto d = make_discriminator(model, gen);
    if (sn)
      for (Module* layer : weight_layers(*d)) spectral_norm(*layer);
    g->to(device);
    d->to(device);
    Adam opt_g(g->parameters(), {.lr = 2e-4, .beta1 = 0.5}), opt_d(d->parameters(), {.lr = 2e-4, .beta1 = 0.5});
    Tensor real = uniform({batch, 1, 28, 28}, -1, 1, gen).to(device);
    auto iteration = [&] {
      Tensor fake;
      {
        NoGradGuard no_grad;
        fake = g->forward(randn({batch, kLatent}, gen).to(device));
      }
      Tensor loss_d = relu(1.0 - d->forward(real)).mean() + relu(1.0 + d->forward(fake)).mean();
      opt_d.zero_grad();
      loss_d.backward();
      opt_d.step();
      Tensor loss_g = -d->forward(g->forward(randn({batch, kLatent}, gen).to(device))).mean();
      opt_g.zero_grad();
      loss_g.backward();
      opt_g.step();
      return loss_g.item();  // .item() waits for the device, so each iteration is timed whole
    };
    const bench::Timing t = bench::time_calls(warmup, iters, iteration);
    std::printf("sigmagrad %s sn=%d device=%s batch=%lld: min %.3f median %.3f max %.3f ms/iteration (%d timed)\n",
                model.c_str(), sn, device_name.c_str(), static_cast<long long>(batch), t.min_ms, t.median_ms,
                t.max_ms, t.timed);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "gan_step: %s\n", e.what());
    return 1;
  }
}
