// A training loop must not grow memory: every graph is freed after its backward.
#include <doctest/doctest.h>

#include <fstream>

#include "ops/ops.h"

using namespace sg;

namespace {
long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = -1;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> value;
      break;
    }
  }
  return value;
}
}  // namespace

TEST_CASE("10,000 training iterations keep the number of live storages and the RSS flat") {
  Generator gen(0);
  Tensor w1 = randn({16, 32}, gen).requires_grad_(true), w2 = randn({32, 1}, gen).requires_grad_(true);
  Tensor x = randn({64, 16}, gen), y = randn({64, 1}, gen);
  auto step = [&] {
    Tensor loss = mse_loss(matmul(tanh(matmul(x, w1)), w2), y);
    loss.backward();
    NoGradGuard no_grad;
    w1.add_(w1.grad(), -1e-3);
    w2.add_(w2.grad(), -1e-3);
    w1.zero_grad();
    w2.zero_grad();
  };
  for (int i = 0; i < 100; ++i) step();
  int64_t storages_before = Storage::live_count();
  long rss_before = resident_kib();
  for (int i = 0; i < 10000; ++i) step();
  CHECK(Storage::live_count() == storages_before);
  long rss_after = resident_kib();
  MESSAGE("RSS before " << rss_before << " KiB, after 10,000 iterations " << rss_after << " KiB");
#ifdef SG_SANITIZED
  // AddressSanitizer keeps freed blocks in quarantine (256 MiB by default) to catch use
  // after free, so RSS grows by design there; the live-storage count above still proves
  // that every graph is freed, and LeakSanitizer reports anything never freed.
  MESSAGE("sanitizer build: RSS assertion skipped (ASan's quarantine holds freed memory)");
#else
  CHECK(rss_after - rss_before < 4096);  // allocator noise only, no per-iteration growth
#endif
}

TEST_CASE("a graph is freed as soon as its output is dropped") {
  Tensor x = ones({4}, {DType::Float64, Device::cpu(), true});
  std::weak_ptr<Node> node;
  {
    Tensor y = exp(x) * 2.0;
    node = y.grad_fn();
    CHECK_FALSE(node.expired());
  }
  CHECK(node.expired());  // no reference cycle kept it alive
}

#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "optim/adam.h"

TEST_CASE("steady-state GAN-style training takes no new memory from the system") {
  Generator gen(1);
  Sequential g{std::make_shared<Linear>(8, 4 * 7 * 7, true, gen), std::make_shared<BatchNorm1d>(4 * 7 * 7),
               std::make_shared<ReLU>(), std::make_shared<Reshape>(Shape{4, 7, 7}),
               std::make_shared<ConvTranspose2d>(4, 1, 4, 2, 1, true, gen), std::make_shared<Tanh>()};
  Sequential d{std::make_shared<Conv2d>(1, 4, 4, 2, 1, true, gen), std::make_shared<LeakyReLU>(0.2),
               std::make_shared<Flatten>(), std::make_shared<Linear>(4 * 7 * 7, 1, true, gen)};
  spectral_norm(*d[0]);
  spectral_norm(*d[3]);
  Adam opt_g(g.parameters(), {.lr = 2e-4}), opt_d(d.parameters(), {.lr = 2e-4});
  Tensor real = uniform({16, 1, 14, 14}, -1, 1, gen);
  auto iteration = [&] {
    Tensor fake;
    {
      NoGradGuard no_grad;
      fake = g(randn({16, 8}, gen));
    }
    Tensor loss_d = relu(1.0 - d(real)).mean() + relu(1.0 + d(fake)).mean();
    opt_d.zero_grad();
    loss_d.backward();
    opt_d.step();
    sn_end_step(d);
    Tensor loss_g = -d(g(randn({16, 8}, gen))).mean();
    opt_g.zero_grad();
    loss_g.backward();
    opt_g.step();
  };
  for (int i = 0; i < 3; ++i) iteration();
  int64_t before = cpu_system_allocations(), storages_before = Storage::live_count();
  for (int i = 0; i < 20; ++i) iteration();
  CHECK(Storage::live_count() == storages_before);
#ifdef SG_NO_BLOCK_CACHE
  // Sanitizer builds bypass the block cache on purpose (so ASan sees every allocation).
  MESSAGE("block cache off in this build: the system-allocation assertion is skipped");
  (void)before;
#else
  CHECK(cpu_system_allocations() == before);  // every buffer came from the allocator's cache
#endif
}
