// The CUDA backend against the CPU reference. Every case here is marked with doctest's
// skip when no GPU is present: ctest then reports it as skipped, never as passed.
#include <doctest/doctest.h>

#include <cmath>

#include "core/captured_step.h"
#include "cuda/backend.h"
#include "kernels/kernels.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "op_cases.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "tools/gradcheck.h"

using namespace sg;

namespace {

bool no_gpu() { return !cuda::available(); }
const Device kCuda = Device::cuda();

double max_abs(const Tensor& a) { return a.numel() ? max(abs(a)).item() : 0.0; }

// |cuda - cpu| <= tol * (1 + max|cpu|), tol by dtype.
void check_close(const Tensor& cpu, const Tensor& gpu, DType dtype, const std::string& what) {
  REQUIRE_MESSAGE(gpu.device() == kCuda, what << " is not on cuda");
  REQUIRE_MESSAGE(cpu.shape() == gpu.shape(), what << ": shapes " << shape_str(cpu.shape()) << " vs "
                                                   << shape_str(gpu.shape()));
  Tensor a = cpu.to(DType::Float64), b = gpu.to(Device::cpu()).to(DType::Float64);
  double tol = dtype == DType::Float64 ? 1e-10 : 1e-4;
  double diff = max_abs(a - b), scale = 1 + max_abs(a);
  CHECK_MESSAGE(diff <= tol * scale, what << ": max |cuda - cpu| = " << diff << " (scale " << scale << ")");
}

// The same leaf on cuda; `transposed` stores it in a transposed layout there.
Tensor to_cuda(const Tensor& t, bool transposed) {
  Tensor moved;
  if (transposed && t.dim() >= 2) moved = t.detach().transpose(-1, -2).contiguous().to(kCuda).transpose(-1, -2);
  else moved = t.detach().to(kCuda);
  Tensor leaf = moved.detach();
  if (t.requires_grad()) leaf.requires_grad_(true);
  return leaf;
}

// The same leaf on the cpu, in the layout to_cuda gives it on the GPU.
Tensor same_layout_on_cpu(const Tensor& t, bool transposed) {
  if (!transposed || t.dim() < 2) return t;
  Tensor leaf = t.detach().transpose(-1, -2).contiguous().transpose(-1, -2).detach();
  if (t.requires_grad()) leaf.requires_grad_(true);
  return leaf;
}

}  // namespace

TEST_CASE("cuda: every op case matches the CPU forward and backward in float64 and float32" * doctest::skip(no_gpu())) {
  using namespace sg_test;
  for (const OpCase& c : op_cases())
    for (DType dtype : {DType::Float64, DType::Float32})
      for (bool transposed : {false, true}) {
        INFO("case " << c.name << ", " << dtype_name(dtype) << (transposed ? ", transposed on cuda" : ""));
        std::vector<Tensor> cpu_in, gpu_in;
        for (const Tensor& t : make_inputs(c, dtype, Layout::Contiguous)) {
          cpu_in.push_back(same_layout_on_cpu(t, transposed));
          gpu_in.push_back(to_cuda(t, transposed));
        }
        Tensor y_cpu;
        try {
          y_cpu = c.fn(cpu_in);
        } catch (const Error&) {  // e.g. view() of a transposed input: the GPU must refuse it too
          CHECK_THROWS_AS(c.fn(gpu_in), Error);
          continue;
        }
        Tensor y_gpu = c.fn(gpu_in);
        check_close(y_cpu, y_gpu, dtype, "forward");
        if (!y_cpu.requires_grad()) continue;
        Generator gen(7);
        Tensor upstream = randn(y_cpu.shape(), gen, {y_cpu.dtype()});
        y_cpu.backward(upstream);
        y_gpu.backward(upstream.to(kCuda));
        for (std::size_t i = 0; i < cpu_in.size(); ++i)
          if (cpu_in[i].requires_grad()) check_close(cpu_in[i].grad(), gpu_in[i].grad(), dtype, str("grad of input ", i));
      }
}

TEST_CASE("cuda: gradcheck passes in float64 for every op case" * doctest::skip(no_gpu())) {
  using namespace sg_test;
  for (const OpCase& c : op_cases()) {
    INFO("case " << c.name);
    std::vector<Tensor> inputs;
    for (const Tensor& t : make_inputs(c, DType::Float64, Layout::Contiguous)) inputs.push_back(to_cuda(t, false));
    GradcheckOptions options;
    options.eps = c.eps;
    options.atol = c.atol;
    options.rtol = c.rtol;
    GradcheckResult r = gradcheck(c.fn, inputs, options);
    CHECK_MESSAGE(r.passed, r.report);
  }
}

TEST_CASE("cuda: convolutions, batch norm and pooling match the CPU and pass gradcheck" * doctest::skip(no_gpu())) {
  Generator gen(3);
  auto f64 = [&](const Shape& s) { return uniform(s, -1, 1, gen, {DType::Float64, Device::cpu(), true}); };
  struct Case {
    const char* name;
    std::function<Tensor(const TensorList&)> fn;
    std::vector<Tensor> inputs;
  };
  std::vector<Case> cases{
      {"conv2d s2 p1", [](const TensorList& in) { return conv2d(in[0], in[1], in[2], 2, 1); },
       {f64({2, 3, 6, 6}), f64({4, 3, 3, 3}), f64({4})}},
      {"conv_transpose2d s2 p1", [](const TensorList& in) { return conv_transpose2d(in[0], in[1], in[2], 2, 1); },
       {f64({2, 3, 3, 3}), f64({3, 2, 4, 4}), f64({2})}},
      {"batch_norm train 4-d",
       [](const TensorList& in) {
         Tensor rm = zeros({2}, {in[0].dtype(), in[0].device()}), rv = ones({2}, {in[0].dtype(), in[0].device()});
         return batch_norm(in[0], rm, rv, in[1], in[2], true);
       },
       {f64({3, 2, 3, 3}), f64({2}), f64({2})}},
      {"batch_norm train 2-d",
       [](const TensorList& in) {
         Tensor rm = zeros({3}, {in[0].dtype(), in[0].device()}), rv = ones({3}, {in[0].dtype(), in[0].device()});
         return batch_norm(in[0], rm, rv, in[1], in[2], true);
       },
       {f64({5, 3}), f64({3}), f64({3})}},
      {"max_pool2d 3/2/1", [](const TensorList& in) { return max_pool2d(in[0], 3, 2, 1); }, {f64({2, 2, 5, 5})}},
      {"avg_pool2d 3/2/1", [](const TensorList& in) { return avg_pool2d(in[0], 3, 2, 1); }, {f64({2, 2, 5, 5})}},
  };
  for (Case& c : cases) {
    INFO(c.name);
    std::vector<Tensor> gpu_in;
    for (const Tensor& t : c.inputs) gpu_in.push_back(to_cuda(t, false));
    Tensor y_cpu = c.fn(c.inputs), y_gpu = c.fn(gpu_in);
    check_close(y_cpu, y_gpu, DType::Float64, "forward");
    Tensor upstream = randn(y_cpu.shape(), gen, {DType::Float64});
    y_cpu.backward(upstream);
    y_gpu.backward(upstream.to(kCuda));
    for (std::size_t i = 0; i < c.inputs.size(); ++i) check_close(c.inputs[i].grad(), gpu_in[i].grad(), DType::Float64, "grad");
    GradcheckResult r = gradcheck(c.fn, gpu_in);
    CHECK_MESSAGE(r.passed, r.report);
  }
}

TEST_CASE("cuda: spectral normalisation equals the CPU" * doctest::skip(no_gpu())) {
  Generator g1(5), g2(5);
  Conv2d cpu(3, 4, 3, 1, 1, false, g1, DType::Float64), gpu(3, 4, 3, 1, 1, false, g2, DType::Float64);
  gpu.to(kCuda);
  spectral_norm(cpu, {.power_iterations = 2, .seed = 9});
  spectral_norm(gpu, {.power_iterations = 2, .seed = 9});  // same seed: the same u, v, drawn on the host
  Tensor x = randn({2, 3, 5, 5}, g1, {DType::Float64});
  Tensor y_cpu = cpu(x), y_gpu = gpu(x.to(kCuda));
  check_close(y_cpu, y_gpu, DType::Float64, "SN conv forward");
  sum(y_cpu * y_cpu).backward();
  sum(y_gpu * y_gpu).backward();
  check_close(cpu.raw_param("weight").grad(), gpu.raw_param("weight").grad(), DType::Float64, "SN weight grad");
  check_close(cpu.buffer("weight_u"), gpu.buffer("weight_u"), DType::Float64, "u after the forward");
}

TEST_CASE("cuda: Adam and SGD steps equal the CPU" * doctest::skip(no_gpu())) {
  Generator gen(1);
  Tensor p_cpu = randn({50}, gen, {DType::Float64}).requires_grad_(true);
  Tensor p_gpu = p_cpu.detach().to(kCuda).requires_grad_(true);
  Tensor q_cpu = p_cpu.detach().clone().requires_grad_(true), q_gpu = p_gpu.detach().clone().requires_grad_(true);
  Adam a_cpu({p_cpu}, {.lr = 0.1, .weight_decay = 0.01}), a_gpu({p_gpu}, {.lr = 0.1, .weight_decay = 0.01});
  SGD s_cpu({q_cpu}, {.lr = 0.1, .momentum = 0.9, .nesterov = true}), s_gpu({q_gpu}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  for (int step = 0; step < 3; ++step) {
    for (Optimizer* o : std::vector<Optimizer*>{&a_cpu, &a_gpu, &s_cpu, &s_gpu}) o->zero_grad();
    sum(pow(p_cpu, 2)).backward();
    sum(pow(p_gpu, 2)).backward();
    sum(pow(q_cpu, 2)).backward();
    sum(pow(q_gpu, 2)).backward();
    a_cpu.step();
    a_gpu.step();
    s_cpu.step();
    s_gpu.step();
  }
  check_close(p_cpu, p_gpu, DType::Float64, "Adam");
  check_close(q_cpu, q_gpu, DType::Float64, "SGD");
}

TEST_CASE("cuda: the caching allocator reuses a freed block of the same size" * doctest::skip(no_gpu())) {
  // A size no other test allocates, so the pool holds exactly one block of it.
  const void* first;
  {
    Tensor a = empty({987653}, {DType::Float32, kCuda});
    first = a.raw_data();
  }
  Tensor b = empty({987653}, {DType::Float32, kCuda});
  CHECK(b.raw_data() == first);
}

TEST_CASE("cuda: mixing devices in one op is an error naming both" * doctest::skip(no_gpu())) {
  CHECK_THROWS_WITH_AS(add(ones({2}), ones({2}, {DType::Float32, kCuda})), doctest::Contains("cpu and cuda:0"), Error);
  CHECK_THROWS_WITH_AS(matmul(ones({2, 2}), ones({2, 2}, {DType::Float32, kCuda})), doctest::Contains("cuda:0"), Error);
}

TEST_CASE("cuda: an impossible allocation is an exception with CUDA's error string" * doctest::skip(no_gpu())) {
  CHECK_THROWS_WITH_AS(empty({int64_t(1) << 45}, {DType::Float32, kCuda}), doctest::Contains("CUDA error"), Error);
}

TEST_CASE("cuda: a DCGAN-sized training step matches the CPU" * doctest::skip(no_gpu())) {
  Generator g1(0), g2(0);
  auto make = [](Generator& gen) {
    return Sequential{std::make_shared<ConvTranspose2d>(8, 4, 4, 2, 1, true, gen), std::make_shared<BatchNorm2d>(4),
                      std::make_shared<ReLU>(), std::make_shared<Conv2d>(4, 2, 4, 2, 1, true, gen),
                      std::make_shared<LeakyReLU>(0.2), std::make_shared<Flatten>(), std::make_shared<Linear>(2 * 7 * 7, 1, true, gen)};
  };
  Sequential cpu = make(g1), gpu = make(g2);
  gpu.to(kCuda);
  Adam o_cpu(cpu.parameters(), {.lr = 1e-3}), o_gpu(gpu.parameters(), {.lr = 1e-3});
  Tensor x = randn({4, 8, 7, 7}, g1);
  for (int step = 0; step < 2; ++step) {
    o_cpu.zero_grad();
    o_gpu.zero_grad();
    Tensor l_cpu = relu(1.0 - cpu(x)).mean(), l_gpu = relu(1.0 - gpu(x.to(kCuda))).mean();
    CHECK(l_gpu.item() == doctest::Approx(l_cpu.item()).epsilon(1e-4));
    l_cpu.backward();
    l_gpu.backward();
    o_cpu.step();
    o_gpu.step();
  }
}

#ifdef SG_WITH_CUDA
#include "cuda/cublas_library.cuh"

// Needs no GPU: opening cuBLAS and finding its functions is the loader's work, and a
// build with CUDA must find the library it was compiled against (cuda/cublas_library.cuh).
TEST_CASE("cuda: cuBLAS opens on first use and has every function the backend calls") {
  const cuda::CublasLibrary& library = cuda::cublas_library();
  CHECK(bool(library.create));
  CHECK(bool(library.destroy));
  CHECK(bool(library.set_stream));
  CHECK(bool(library.set_workspace));
  CHECK(bool(library.sgemm_strided_batched));
  CHECK(bool(library.dgemm_strided_batched));
  REQUIRE(bool(library.status_string));
  // A call that needs no GPU: cuBLAS's description of a status code.
  CHECK(std::string(library.status_string(CUBLAS_STATUS_NOT_INITIALIZED)).find("not initialized") !=
        std::string::npos);
  CHECK(&cuda::cublas_library() == &library);  // opened once
}
#endif

// ---- issue 16: fused SN kernels, checks that do not wait, recorded steps ----------------------

TEST_CASE("cuda: the fused power iteration and SN backward equal the textbook computation on the GPU" *
          doctest::skip(no_gpu())) {
  // Shapes of the reference models' D weights: a conv's (128, 1024), a Linear's (512, 784),
  // the last Linear's (1, 6272), and an odd small one; 1 and 3 iterations.
  for (DType dtype : {DType::Float64, DType::Float32})
    for (Shape shape : {Shape{128, 1024}, Shape{512, 784}, Shape{1, 6272}, Shape{7, 3}})
      for (int iterations : {1, 3}) {
        INFO(dtype_name(dtype) << " " << shape_str(shape) << ", " << iterations << " iterations");
        Generator gen(11);
        Tensor m = randn(shape, gen, {dtype, kCuda});
        Tensor u0 = randn({shape[0]}, gen, {dtype, kCuda}), v0 = randn({shape[1]}, gen, {dtype, kCuda});
        Tensor u_fast = u0.clone(), v_fast = v0.clone(), u_ref = u0.clone(), v_ref = v0.clone();
        Tensor sigma_fast = power_iteration(m, u_fast, v_fast, iterations, 1e-12);
        Tensor sigma_ref;
        {
          ReferencePathGuard textbook;
          sigma_ref = power_iteration(m, u_ref, v_ref, iterations, 1e-12);
        }
        CHECK(sigma_fast.device() == kCuda);  // sigma stays on the device
        const double tol = dtype == DType::Float64 ? 1e-12 : 1e-5;
        CHECK(std::abs(sigma_fast.item() - sigma_ref.item()) <= tol * std::abs(sigma_ref.item()));
        CHECK(max_abs(u_fast - u_ref) <= tol * 10);
        CHECK(max_abs(v_fast - v_ref) <= tol * 10);
        // The backward through sigma for this weight, fused and composed, with the scale
        // and the term's weight (a BSN half) each away from 1.
        for (double scale : {1.0, 0.7})
          for (double term_weight : {1.0, 0.5}) {
            INFO("scale " << scale << ", term weight " << term_weight);
            Tensor w_fast = m.detach().requires_grad_(true), w_ref = m.detach().requires_grad_(true);
            Tensor g = randn(shape, gen, {dtype, kCuda});
            const std::vector<SigmaTerm> terms{SigmaTerm{0, u_fast, v_fast, term_weight}};
            sum(mul(spectral_normalize(w_fast, terms, scale, SNBackward::ThroughSigma), g)).backward();
            {
              ReferencePathGuard textbook;
              sum(mul(spectral_normalize(w_ref, terms, scale, SNBackward::ThroughSigma), g)).backward();
            }
            CHECK(max_abs(w_fast.grad() - w_ref.grad()) <= tol * (1 + max_abs(w_ref.grad())));
          }
      }
}

TEST_CASE("cuda: the fused power iteration gives the same bits on every run" * doctest::skip(no_gpu())) {
  // Every sum runs in a fixed order (a warp per row, a thread per column, block sums as
  // fixed trees, read by the grid's last block whichever block that is): no atomics on
  // values, so no run-to-run difference, whatever order the blocks finish in.
  for (Shape shape : {Shape{128, 1024}, Shape{1, 6272}}) {
    INFO(shape_str(shape));
    Generator gen(12);
    Tensor m = randn(shape, gen, {DType::Float32, kCuda});
    Tensor u0 = randn({shape[0]}, gen, {DType::Float32, kCuda}), v0 = randn({shape[1]}, gen, {DType::Float32, kCuda});
    std::vector<float> first_u, first_v;
    float first_sigma = 0;
    for (int run = 0; run < 50; ++run) {
      Tensor u = u0.clone(), v = v0.clone();
      const float sigma = static_cast<float>(power_iteration(m, u, v, 3, 1e-12).item());
      if (run == 0) {
        first_u = u.to_vector<float>();
        first_v = v.to_vector<float>();
        first_sigma = sigma;
        continue;
      }
      CHECK(sigma == first_sigma);
      CHECK(u.to_vector<float>() == first_u);
      CHECK(v.to_vector<float>() == first_v);
    }
  }
}

TEST_CASE("cuda: a zero sigma is reported at the next wait for the device, with the check's message" *
          doctest::skip(no_gpu())) {
  Tensor w = zeros({3, 4}, {DType::Float64, kCuda});
  Tensor u = ones({3}, {DType::Float64, kCuda}), v = ones({4}, {DType::Float64, kCuda});
  Tensor out = spectral_normalize(w, {SigmaTerm{0, u, v, 1.0}}, 1.0, SNBackward::ThroughSigma);  // queued, no wait
  CHECK_THROWS_WITH(synchronize(kCuda), doctest::Contains("sigma estimate for a weight of shape [3, 4] is 0"));
  synchronize(kCuda);  // reported once
  CHECK(ones({2}, {DType::Float32, kCuda}).sum().item() == 2.0);
}

TEST_CASE("cuda: a zero sigma met by a replayed graph is reported at the next wait, with the check's message" *
          doctest::skip(no_gpu())) {
  // The check's kernel is recorded with the number of its message; the message is kept for
  // the life of the process, so a replay that fails it long after still names the weight.
  Tensor w = ones({3, 4}, {DType::Float64, kCuda}), out = zeros({3, 4}, {DType::Float64, kCuda});
  Tensor u = ones({3}, {DType::Float64, kCuda}), v = ones({4}, {DType::Float64, kCuda});
  CapturedStep step(kCuda, [&] {
    NoGradGuard no_grad;
    out.copy_(spectral_normalize(w, {SigmaTerm{0, u, v, 1.0}}, 1.0, SNBackward::ThroughSigma));
  });
  step.run();
  step.run();  // recorded and replayed: sigma = u . (W v) = 12
  synchronize(kCuda);
  CHECK(out.sum().item() == doctest::Approx(1.0));  // 12 entries of 1 / 12
  w.fill_(0.0);
  step.run();  // the same graph, now on a zero weight
  CHECK_THROWS_WITH(synchronize(kCuda), doctest::Contains("sigma estimate for a weight of shape [3, 4] is 0"));
}

TEST_CASE("cuda: a training step replayed as a CUDA graph equals the eager steps" * doctest::skip(no_gpu())) {
  // D: Conv2d -> LeakyReLU -> Flatten -> Linear, SN on both, Adam; 5 steps each way.
  auto make = [] {
    Generator rng(3);
    auto net = std::make_shared<Sequential>();
    net->push_back(std::make_shared<Conv2d>(1, 4, 4, 2, 1, true, rng));
    net->push_back(std::make_shared<LeakyReLU>(0.2));
    net->push_back(std::make_shared<Flatten>());
    net->push_back(std::make_shared<Linear>(4 * 4 * 4, 1, true, rng));
    spectral_norm(*net->children()[0].second);
    spectral_norm(*net->children()[3].second);
    net->to(kCuda);
    return net;
  };
  auto eager = make(), recorded = make();
  Adam eager_adam(eager->parameters(), {.lr = 0.01, .beta1 = 0.5});
  Adam recorded_adam(recorded->parameters(), {.lr = 0.01, .beta1 = 0.5});
  auto step = [](Module& net, Adam& adam, const Tensor& real) {
    Tensor loss = relu(1.0 - net.forward(real)).mean();
    adam.zero_grad();
    loss.backward();
    adam.step();
    return loss;
  };
  Tensor fixed_real = zeros({8, 1, 8, 8}, {DType::Float32, kCuda}), fixed_loss = zeros({}, {DType::Float32, kCuda});
  CapturedStep captured(kCuda, [&] {
    Tensor loss = step(*recorded, recorded_adam, fixed_real);
    NoGradGuard no_grad;
    fixed_loss.copy_(loss.detach());
  });
  for (int k = 0; k < 5; ++k) {
    Generator data(20 + k);
    Tensor real = randn({8, 1, 8, 8}, data).to(kCuda);
    const double eager_loss = step(*eager, eager_adam, real).item();
    fixed_real.copy_(real);
    captured.run();
    CHECK(fixed_loss.item() == eager_loss);
  }
  CHECK(captured.recorded());
  for (const auto& entry : eager->state_dict())  // (clang: no structured binding inside CHECK)
    CHECK_MESSAGE(max_abs(entry.second - recorded->state_dict().at(entry.first)) == 0.0, entry.first);
  CHECK(recorded_adam.steps(0) == 5);  // counted on the device through the replays
}

TEST_CASE("cuda: a learning rate set between replays is the one the replay uses" * doctest::skip(no_gpu())) {
  // Adam and SGD with momentum, a decaying rate, eager against a replayed graph: bit for bit.
  Generator rng(5);
  Tensor start = randn({64}, rng).to(kCuda);
  Tensor a_eager = start.clone().requires_grad_(true), a_graph = start.clone().requires_grad_(true);
  Tensor s_eager = start.clone().requires_grad_(true), s_graph = start.clone().requires_grad_(true);
  Adam adam_eager({a_eager}, {.lr = 0.1}), adam_graph({a_graph}, {.lr = 0.1});
  SGD sgd_eager({s_eager}, {.lr = 0.1, .momentum = 0.9}), sgd_graph({s_graph}, {.lr = 0.1, .momentum = 0.9});
  auto step = [](Optimizer& opt, Tensor& w) {
    opt.zero_grad();
    sum(mul(w, w) * 0.5).backward();
    opt.step();
  };
  CapturedStep captured(kCuda, [&] {
    step(adam_graph, a_graph);
    step(sgd_graph, s_graph);
  });
  for (int t = 1; t <= 5; ++t) {
    for (Optimizer* opt : std::vector<Optimizer*>{&adam_eager, &adam_graph, &sgd_eager, &sgd_graph})
      opt->set_lr(0.1 / t);
    step(adam_eager, a_eager);
    step(sgd_eager, s_eager);
    captured.run();
  }
  CHECK(captured.recorded());
  CHECK(max_abs(a_eager - a_graph) == 0.0);
  CHECK(max_abs(s_eager - s_graph) == 0.0);
}

TEST_CASE("cuda: a CapturedStep runs eagerly once, then records a graph and replays it" * doctest::skip(no_gpu())) {
  // (The example-level comparison is tests/gan_cuda_graph.sh, run with DEVICE=cuda.)
  Tensor x = ones({4}, {DType::Float32, kCuda}), y = zeros({4}, {DType::Float32, kCuda});
  CapturedStep step(kCuda, [&] { y.copy_(mul(x, x)); });
  step.run();  // eager warm-up
  CHECK_FALSE(step.recorded());
  x.fill_(2.0);
  step.run();  // recorded, then replayed: it reads x as it is now
  CHECK(step.recorded());
  CHECK(y.sum().item() == 16.0);  // 4 * 2^2
  x.fill_(3.0);
  step.run();  // replayed only
  CHECK(y.sum().item() == 36.0);  // 4 * 3^2: the replay really ran, on the current input
  step.reset();
  CHECK_FALSE(step.recorded());
  x.fill_(1.0);
  step.run();  // a warm-up again (eager)
  CHECK_FALSE(step.recorded());
  CHECK(y.sum().item() == 4.0);
  x.fill_(5.0);
  step.run();  // records again
  CHECK(step.recorded());
  CHECK(y.sum().item() == 100.0);  // 4 * 5^2
}
