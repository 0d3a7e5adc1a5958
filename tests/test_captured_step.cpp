// core/captured_step.h on the CPU: what a recorded step requires, checked on every machine
// (tests/test_cuda.cpp checks the CUDA graph itself against the same eager steps).
#include <doctest/doctest.h>

#include "core/captured_step.h"
#include "kernels/kernels.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "optim/adam.h"

using namespace sg;

namespace {

// A small GAN-shaped step: D (Linear -> LeakyReLU -> Linear, SN on both) takes an Adam
// step on the hinge loss of a fixed batch. The parameters' bytes after `steps` steps.
struct SmallDiscriminator {
  Sequential net;
  std::unique_ptr<Adam> adam;
  explicit SmallDiscriminator(uint64_t seed) {
    Generator rng(seed);
    net.push_back(std::make_shared<Linear>(6, 5, true, rng));
    net.push_back(std::make_shared<LeakyReLU>(0.2));
    net.push_back(std::make_shared<Linear>(5, 1, true, rng));
    spectral_norm(*net.children()[0].second);
    spectral_norm(*net.children()[2].second);
    adam = std::make_unique<Adam>(net.parameters(), AdamOptions{.lr = 0.05, .beta1 = 0.5});
  }
  Tensor step(const Tensor& real, const Tensor& fake) {
    Tensor loss = relu(1.0 - net.forward(real)).mean() + relu(1.0 + net.forward(fake)).mean();
    adam->zero_grad();
    loss.backward();
    adam->step();
    return loss;
  }
  std::vector<double> state() {
    std::vector<double> all;
    for (const auto& [name, t] : net.state_dict()) {
      std::vector<double> values = t.to(DType::Float64).to_vector<double>();
      all.insert(all.end(), values.begin(), values.end());
    }
    return all;
  }
};

Tensor batch(int64_t step, double shift) {
  Generator rng(100 + static_cast<uint64_t>(step));
  return add(randn({8, 6}, rng), scalar_tensor(shift));
}

// Eager steps and the same steps through a CapturedStep (inputs copied into fixed
// tensors, the loss copied out): the same parameters, SN vectors and losses, bit for bit.
// On the CPU both sides run the same code, so what this pins is the recorded step's
// contract: exactly one step per run(), inputs read as they are at each run(), and no
// read-back anywhere in an SN + Adam step (the checked runs would refuse one). On a GPU,
// tests/test_cuda.cpp compares a replayed graph with eager steps the same way.
void check_recorded_equals_eager() {
  SmallDiscriminator eager(7), recorded(7);
  Tensor fixed_real = zeros({8, 6}), fixed_fake = zeros({8, 6}), fixed_loss = zeros({});
  CapturedStep step(Device::cpu(), [&] {
    Tensor loss = recorded.step(fixed_real, fixed_fake);
    NoGradGuard no_grad;
    fixed_loss.copy_(loss.detach());
  });
  for (int64_t k = 0; k < 4; ++k) {
    const double eager_loss = eager.step(batch(k, 1.0), batch(k + 50, -1.0)).item();
    fixed_real.copy_(batch(k, 1.0));
    fixed_fake.copy_(batch(k + 50, -1.0));
    step.run();
    CHECK(fixed_loss.item() == eager_loss);
  }
  CHECK(recorded.state() == eager.state());
  CHECK(recorded.adam->steps(0) == 4);
  CHECK_FALSE(step.recorded());  // the CPU has no graphs: the step ran again each time
}

// A stand-in for a device with graphs, put in CUDA's place for one test: it counts what
// CapturedStep asks of it. Nothing is recorded; a "replay" is a count.
struct GraphDeviceSpy final : DeviceInterface {
  int begins = 0, ends = 0, aborts = 0, replays = 0, destroys = 0;
  int graph = 0;  // the address stands for the recorded graph
  void* allocate(std::size_t, int) override { return nullptr; }
  void deallocate(void*, std::size_t, int) override {}
  void copy_from_host(void*, const void*, std::size_t, int) override {}
  void copy_to_host(void*, const void*, std::size_t, int) override {}
  void copy_within(void*, const void*, std::size_t, int) override {}
  bool can_capture() const override { return true; }
  void begin_capture(int) override { ++begins; }
  void* end_capture(int) override {
    ++ends;
    return &graph;
  }
  void abort_capture(int) override { ++aborts; }
  void replay(void* recorded, int) override {
    CHECK(recorded == &graph);
    ++replays;
  }
  void destroy_graph(void* recorded, int) override {
    CHECK(recorded == &graph);
    ++destroys;
  }
};

// Registers `spy` as the CUDA device for its lifetime, then puts back what was there.
struct SpyAsCuda {
  DeviceInterface* saved;
  explicit SpyAsCuda(DeviceInterface* spy)
      : saved(device_available(DeviceType::CUDA) ? &device_interface(DeviceType::CUDA) : nullptr) {
    register_device_interface(DeviceType::CUDA, spy);
  }
  ~SpyAsCuda() { register_device_interface(DeviceType::CUDA, saved); }
};

}  // namespace

TEST_CASE("captured step: the first run is eager, the second records and replays, later runs only replay") {
  GraphDeviceSpy spy;
  SpyAsCuda as_cuda(&spy);
  int calls = 0;
  bool checked = false;
  {
    CapturedStep step(Device::cuda(), [&] {
      ++calls;
      checked = capturing_step();
    });
    step.run();
    CHECK(calls == 1);
    CHECK_FALSE(checked);  // the warm-up runs unchecked
    CHECK(spy.begins == 0);
    CHECK_FALSE(step.recorded());
    step.run();  // recorded (the step runs once, checked, between begin and end), then replayed
    CHECK(calls == 2);
    CHECK(checked);
    CHECK((spy.begins == 1 && spy.ends == 1 && spy.replays == 1));
    CHECK(step.recorded());
    step.run();
    step.run();
    CHECK(calls == 2);  // a replay does not call the step
    CHECK(spy.replays == 3);
    CHECK(spy.begins == 1);
    step.reset();  // forgets the graph: the next run is a warm-up again, the one after records
    CHECK(spy.destroys == 1);
    CHECK_FALSE(step.recorded());
    step.run();
    CHECK(calls == 3);
    CHECK_FALSE(checked);
    CHECK((spy.begins == 1 && spy.replays == 3));
    step.run();
    CHECK(calls == 4);
    CHECK((spy.begins == 2 && spy.replays == 4));
  }
  CHECK(spy.destroys == 2);  // the destructor destroyed the second graph
  CHECK(spy.aborts == 0);
}

TEST_CASE("captured step: after reset() a loaded checkpoint's SN flag is read in the warm-up, not in the recording") {
  GraphDeviceSpy spy;
  SpyAsCuda as_cuda(&spy);
  Generator rng(3);
  Linear layer(4, 2, true, rng);
  spectral_norm(layer);
  Tensor x = ones({3, 4}), out = zeros({3, 2});
  CapturedStep step(Device::cuda(), [&] { out.copy_(layer.forward(x)); });
  step.run();
  step.run();
  REQUIRE(spy.begins == 1);
  // Loading a checkpoint writes the layer's "weight_sn_on" buffer, so its next forward
  // reads the flag back: a read that a recording refuses, and that the warm-up makes.
  std::map<std::string, Tensor> saved;
  for (const auto& [name, t] : layer.state_dict()) saved[name] = t.clone();
  layer.load_state_dict(saved);
  step.reset();
  CHECK_NOTHROW(step.run());
  CHECK(spy.begins == 1);
  CHECK_NOTHROW(step.run());
  CHECK((spy.begins == 2 && spy.ends == 2 && spy.aborts == 0));
}

TEST_CASE("captured step: a step that throws while recording is aborted, leaves no graph, and records next time") {
  GraphDeviceSpy spy;
  SpyAsCuda as_cuda(&spy);
  bool fail = false;
  CapturedStep step(Device::cuda(), [&] { SG_CHECK(!fail, "the step failed"); });
  step.run();  // warm-up
  fail = true;
  CHECK_THROWS_WITH(step.run(), doctest::Contains("the step failed"));
  CHECK(spy.aborts == 1);
  CHECK(spy.ends == 0);
  CHECK(spy.replays == 0);
  CHECK_FALSE(step.recorded());
  CHECK_FALSE(capturing_step());
  fail = false;
  step.run();
  CHECK((spy.begins == 2 && spy.ends == 1 && spy.replays == 1));
  CHECK(step.recorded());
}

TEST_CASE("captured step: after the first (warm-up) run, reading a value inside the step is a clear error") {
  Tensor x = ones({3});
  bool fail = true;
  CapturedStep step(Device::cpu(), [&] {
    Tensor y = mul(x, x);
    if (fail) (void)y.sum().item();
  });
  step.run();  // the warm-up runs the step as it is: a layer may read and keep a value then
  CHECK_THROWS_WITH(step.run(), doctest::Contains("item(), at()) inside a captured step"));
  CHECK_FALSE(capturing_step());  // the guard is gone after the error
  fail = false;
  step.run();
  CHECK(x.sum().item() == 3.0);  // outside the step, reading is fine
}

TEST_CASE("captured step: to_vector and synchronize inside the step are refused, naming what was called") {
  Tensor x = ones({2});
  CapturedStep vector_step(Device::cpu(), [&] { (void)x.to_vector<float>(); });
  vector_step.run();
  CHECK_THROWS_WITH(vector_step.run(), doctest::Contains("to_vector() inside a captured step"));
  CapturedStep sync_step(Device::cpu(), [&] { synchronize(Device::cpu()); });
  sync_step.run();
  CHECK_THROWS_WITH(sync_step.run(), doctest::Contains("synchronize() inside a captured step"));
}

TEST_CASE("captured step: host values made inside the step are refused on the CPU too, as a GPU would refuse them") {
  // On a GPU, from_vector and a random draw upload host values: a replay would reuse the
  // first upload's values. The CPU has no upload to catch, so the factories refuse.
  Generator rng(1);
  CapturedStep vector_step(Device::cpu(), [&] { (void)from_vector(std::vector<double>{1, 2}); });
  vector_step.run();
  CHECK_THROWS_WITH(vector_step.run(), doctest::Contains("made from host values (from_vector, tensor(), a random "
                                                         "draw) inside a captured step"));
  CapturedStep draw_step(Device::cpu(), [&] { (void)randn({4}, rng); });
  draw_step.run();
  CHECK_THROWS_WITH(draw_step.run(), doctest::Contains("inside a captured step"));
  CHECK(from_vector(std::vector<double>{1, 2}).numel() == 2);  // outside a step, as ever
}

TEST_CASE("captured step: an SN discriminator's Adam steps through it equal the eager steps bit for bit") {
  check_recorded_equals_eager();
}

TEST_CASE("captured step: so do they on the textbook path, which is what a GPU runs (no CPU fast kernels)") {
  ReferencePathGuard textbook;
  check_recorded_equals_eager();
}

TEST_CASE("require_positive_finite: the CPU reports a zero, negative or non-finite value at once") {
  const Kernels& cpu = kernels_for(Device::cpu());
  cpu.require_positive_finite(scalar_tensor(0.5), "a value");  // fine
  CHECK_THROWS_WITH(cpu.require_positive_finite(scalar_tensor(0.0), "the sigma"),
                    doctest::Contains("the sigma is 0 (expected a positive finite value)"));
  CHECK_THROWS_WITH(cpu.require_positive_finite(scalar_tensor(-2.0, {DType::Float64}), "x"),
                    doctest::Contains("x is -2"));
  CHECK_THROWS_WITH(cpu.require_positive_finite(scalar_tensor(std::nan("")), "y"), doctest::Contains("y is nan"));
  CHECK_THROWS_WITH(cpu.require_positive_finite(scalar_tensor(INFINITY), "z"), doctest::Contains("z is inf"));
  CHECK_THROWS_WITH(cpu.require_positive_finite(scalar_tensor(-INFINITY), "w"), doctest::Contains("w is -inf"));
}

TEST_CASE("spectral_normalize refuses a weight whose sigma estimate is zero, naming its shape") {
  Tensor w = zeros({3, 4}, {DType::Float64});
  Tensor u = ones({3}, {DType::Float64}), v = ones({4}, {DType::Float64});
  CHECK_THROWS_WITH(spectral_normalize(w, {SigmaTerm{0, u, v, 1.0}}, 1.0, SNBackward::ThroughSigma),
                    doctest::Contains("sigma estimate for a weight of shape [3, 4] is 0"));
}
