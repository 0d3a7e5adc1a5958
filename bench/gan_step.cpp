// Times one training iteration (D step + G step, docs/reference_models.md) of the
// DCGAN-MNIST or MLP-GAN on random data: 20 warm-up iterations, then N timed ones;
// prints min / median / max milliseconds.
//
// Under mpirun it times the data-parallel iteration (bench/run_distributed.sh): each rank
// takes its slice of the global --batch, the gradients are averaged and G's batch norm is
// synchronised, as in examples/mnist_gan; rank 0 also reports the collectives per
// iteration (calls, bytes, time inside them, waiting for the other rank included).
//
//   build/bench/gan_step --model dcgan --device cuda --sn 1 --iters 100
//   mpirun -np 2 build/bench/gan_step --model mlp --iters 100
//
// --gemm-bound (CPU) also records the GEMMs of one iteration (cpu::record_gemm_calls) and
// times them alone, replayed through the same cpu::gemm on warm buffers: the time the
// iteration would take if everything but its GEMMs were free.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

#include "../examples/common/distributed_run.h"
#include "../examples/mnist_gan/models.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "optim/adam.h"
#include "core/captured_step.h"
#include "core/parallel.h"
#include "cpu/gemm.h"
#include "timing.h"  // bench/: the shared timing loop

using namespace sg;
using namespace sg::examples;

namespace {

// Times `calls` (one iteration's GEMMs) replayed back to back, filled with small values;
// returns the timing and the GFLOP. `shared`: every call on the same buffers, big enough
// for the largest operands, so operands are warm in cache (a lower bound); else each call
// on operands of its own, as in the iteration, where each GEMM reads tensors made by
// earlier ops (some still in cache there, none here).
bench::Timing time_gemms_alone(const std::vector<cpu::GemmCall>& calls, int warmup, int iters, bool shared,
                               double* gflop) {
  struct Operands {
    std::vector<float> a, b, c;
  };
  std::vector<Operands> operands(shared ? 1 : calls.size());
  *gflop = 0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const cpu::GemmCall& c = calls[i];
    SG_CHECK(c.dtype == DType::Float32, "gan_step --gemm-bound: expected float32 GEMMs");
    Operands& o = operands[shared ? 0 : i];
    auto grow = [](std::vector<float>& v, int64_t n, float value) {
      if (static_cast<int64_t>(v.size()) < n) v.assign(static_cast<std::size_t>(n), value);
    };
    grow(o.a, (c.trans_a ? c.k : c.m) * c.lda, 0.01f);
    grow(o.b, (c.trans_b ? c.n : c.k) * c.ldb, 0.02f);
    grow(o.c, c.m * c.ldc, 0.0f);
    *gflop += 2.0 * static_cast<double>(c.m) * static_cast<double>(c.n) * static_cast<double>(c.k) / 1e9;
  }
  return bench::time_calls(warmup, iters, [&] {
    for (std::size_t i = 0; i < calls.size(); ++i) {
      const cpu::GemmCall& c = calls[i];
      Operands& o = operands[shared ? 0 : i];
      cpu::gemm<float>(c.trans_a, c.trans_b, c.m, c.n, c.k, 1.0f, o.a.data(), c.lda, o.b.data(), c.ldb,
                       c.accumulate ? 1.0f : 0.0f, o.c.data(), c.ldc);
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "dcgan", device_name = "cpu", g_backward = "full";
  int iters = 100, warmup = 20, sn = 1;
  bool gemm_bound = false, cuda_graph = false;
  int64_t batch = 64;
  CLI::App app{"Time one GAN training iteration"};
  app.add_option("--model", model)->check(CLI::IsMember({"dcgan", "mlp"}));
  app.add_option("--device", device_name)->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--sn", sn, "1: spectral norm on every D layer, 0: none");
  app.add_option("--iters", iters)->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup);
  app.add_option("--batch", batch)->check(CLI::PositiveNumber);
  app.add_option("--g-backward", g_backward,
                 "the G step's backward: full (loss_g.backward(), D's weight gradients computed and unused, as "
                 "PyTorch's loss_g.backward()) or generator (into G's parameters only, as examples/mnist_gan)")
      ->check(CLI::IsMember({"full", "generator"}));
  app.add_flag("--gemm-bound", gemm_bound, "also time the iteration's GEMMs alone (CPU)");
  app.add_flag("--cuda-graph", cuda_graph, "record the iteration once and replay it (one CUDA graph with --device "
               "cuda; on the CPU the same path without a graph)");
  CLI11_PARSE(app, argc, argv);
  try {
    const DistributedRun run = start_distributed_run(device_name, batch, str(model, sn, batch, iters, warmup));
    const int64_t local_batch = batch / run.world_size();
    Device device = device_name == "cuda" ? Device::cuda() : Device::cpu();
    Generator gen(0);
    auto g = make_generator(model, gen);
    auto d = make_discriminator(model, gen);
    if (sn)
      for (Module* layer : weight_layers(*d)) spectral_norm(*layer);
    g->to(device);
    d->to(device);
    auto g_gradients = make_replica(run, *g), d_gradients = make_replica(run, *d);  // no-ops on one process
    Adam opt_g(g->parameters(), {.lr = 2e-4, .beta1 = 0.5}), opt_d(d->parameters(), {.lr = 2e-4, .beta1 = 0.5});
    const std::vector<Tensor> g_params = g->parameters();
    Tensor real = uniform({local_batch, 1, 28, 28}, -1, 1, gen).to(device);
    std::vector<dist::CollectiveStats> per_iteration;
    // The iteration's device work, on noise z_d (D's step) and z_g (G's); returns G's loss.
    auto device_work = [&](const Tensor& z_d, const Tensor& z_g) {
      Tensor fake;
      {
        NoGradGuard no_grad;
        fake = g->forward(z_d);
      }
      Tensor loss_d = relu(1.0 - d->forward(real)).mean() + relu(1.0 + d->forward(fake)).mean();
      opt_d.zero_grad();
      loss_d.backward();
      d_gradients->average_gradients();
      opt_d.step();
      Tensor loss_g = -d->forward(g->forward(z_g)).mean();
      opt_g.zero_grad();
      if (g_backward == "generator") loss_g.backward_into(g_params);
      else loss_g.backward();
      g_gradients->average_gradients();
      opt_g.step();
      return loss_g;
    };
    // --cuda-graph: the same work recorded once (core/captured_step.h), with fixed tensors
    // for the noise and the loss.
    SG_CHECK(!cuda_graph || run.world_size() == 1, "gan_step: --cuda-graph runs on one process");
    Tensor fixed_z_d = zeros({local_batch, kLatent}, {DType::Float32, device}), fixed_z_g = zeros_like(fixed_z_d);
    Tensor fixed_loss_g = zeros({}, {DType::Float32, device});
    CapturedStep recorded(device, [&] {
      Tensor loss_g = device_work(fixed_z_d, fixed_z_g);
      NoGradGuard no_grad;
      fixed_loss_g.copy_(loss_g.detach());
    });
    // Each iteration's noise. On the CPU it is drawn per iteration, as the PyTorch peer
    // draws it there. On a GPU the peer draws it on the device, and sigmagrad has no RNG
    // on the device yet: a host draw and copy per iteration would time the host's RNG (2 x
    // 102,400 normals at batch 1024), so a ring of noise batches drawn before timing
    // stands in. The device work of the iteration is the same.
    std::vector<std::array<Tensor, 2>> noise_ring;
    if (!device.is_cpu())
      for (int i = 0; i < 16; ++i) {
        Tensor z_d = randn({local_batch, kLatent}, gen), z_g = randn({local_batch, kLatent}, gen);
        noise_ring.push_back({z_d.to(device), z_g.to(device)});
      }
    std::size_t iterations_run = 0;
    auto iteration = [&] {
      const dist::CollectiveStats before = run.comm->stats();
      Tensor z_d, z_g;
      if (noise_ring.empty()) {
        z_d = randn({local_batch, kLatent}, gen);
        z_g = randn({local_batch, kLatent}, gen);
      } else {
        z_d = noise_ring[iterations_run % noise_ring.size()][0];
        z_g = noise_ring[iterations_run % noise_ring.size()][1];
      }
      ++iterations_run;
      Tensor loss_g;
      if (cuda_graph) {
        fixed_z_d.copy_(z_d);
        fixed_z_g.copy_(z_g);
        recorded.run();
        loss_g = fixed_loss_g;
      } else {
        loss_g = device_work(z_d, z_g);
      }
      const double value = loss_g.item();  // .item() waits for the device, so each iteration is timed whole
      const dist::CollectiveStats& after = run.comm->stats();
      per_iteration.push_back({after.calls - before.calls, after.bytes - before.bytes, after.seconds - before.seconds});
      return value;
    };
    const bench::Timing t = bench::time_calls(warmup, iters, iteration);
    std::printf("sigmagrad %s sn=%d device=%s%s%s batch=%lld ranks=%d threads=%d: min %.3f median %.3f max %.3f "
                "ms/iteration (%d timed)\n",
                model.c_str(), sn, device_name.c_str(), cuda_graph ? " cuda-graph" : "",
                g_backward == "generator" ? " g-backward=generator" : "", static_cast<long long>(batch), run.world_size(),
                num_threads(), t.min_ms, t.median_ms, t.max_ms, t.timed);
    if (gemm_bound) {
      SG_CHECK(device.is_cpu(), "gan_step: --gemm-bound times the CPU's GEMMs; run it without --device cuda");
      std::vector<cpu::GemmCall> calls;
      cpu::record_gemm_calls(&calls);
      iteration();
      cpu::record_gemm_calls(nullptr);
      double gflop = 0;
      for (bool shared : {true, false}) {
        const bench::Timing alone = time_gemms_alone(calls, warmup, iters, shared, &gflop);
        std::printf("  its GEMMs alone, %s: min %.3f median %.3f max %.3f ms (%zu calls, %.2f GFLOP, "
                    "%.1f GFLOP/s); iteration / GEMMs alone = %.2f\n",
                    shared ? "warm operands" : "operands of their own", alone.min_ms, alone.median_ms, alone.max_ms,
                    calls.size(), gflop, gflop / alone.median_ms * 1e3, t.median_ms / alone.median_ms);
      }
    }
    if (run.world_size() > 1) {
      std::vector<double> comm_ms;
      for (std::size_t i = per_iteration.size() - static_cast<std::size_t>(iters); i < per_iteration.size(); ++i)
        comm_ms.push_back(per_iteration[i].seconds * 1e3);
      std::sort(comm_ms.begin(), comm_ms.end());
      std::printf("  collectives per iteration: %lld calls (%lld + %lld gradient buckets, the rest synchronised "
                  "batch norm), %.2f MB all-reduced, median %.3f ms inside them\n",
                  static_cast<long long>(per_iteration.back().calls), static_cast<long long>(d_gradients->bucket_count()),
                  static_cast<long long>(g_gradients->bucket_count()), per_iteration.back().bytes / 1e6,
                  comm_ms[comm_ms.size() / 2]);
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "gan_step: %s\n", e.what());
    dist::stop_job_after_error(1);
    return 1;
  }
}
