// Modules: parameters, buffers, state dicts, train/eval, initialisation, the weight indirection.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "cpu/gemm.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "tools/gradcheck.h"

using namespace sg;

TEST_CASE("Linear computes x W^T + b") {
  Linear layer(3, 2);
  {
    NoGradGuard no_grad;
    layer.raw_param("weight").copy_(tensor({{1, 2, 3}, {4, 5, 6}}));
    layer.raw_param("bias").copy_(tensor({0.5, -0.5}));
  }
  Tensor y = layer(tensor({{1, 0, -1}}));
  CHECK(y.to_vector<double>() == std::vector<double>{1 - 3 + 0.5, 4 - 6 - 0.5});
}

TEST_CASE("default initialisation follows PyTorch's bounds") {
  Generator gen(0);
  Linear linear(100, 50, true, gen);
  double bound = 1.0 / std::sqrt(100.0);
  std::vector<double> w = linear.raw_param("weight").to_vector<double>();
  double max_abs = 0;
  for (double v : w) max_abs = std::max(max_abs, std::abs(v));
  CHECK(max_abs <= bound);
  CHECK(max_abs > 0.9 * bound);  // 5000 uniform draws reach close to the bound
  ConvTranspose2d deconv(128, 64, 4, 2, 1, true, gen);
  // ConvTranspose2d's fan_in is weight.shape[1] * k * k = 64 * 16.
  std::vector<double> dw = deconv.raw_param("weight").to_vector<double>();
  double max_dw = 0;
  for (double v : dw) max_dw = std::max(max_dw, std::abs(v));
  CHECK(max_dw <= 1.0 / std::sqrt(64.0 * 16));
  CHECK(max_dw > 0.99 / std::sqrt(64.0 * 16));
  BatchNorm2d bn(8);
  CHECK(bn.raw_param("weight").to_vector<double>() == std::vector<double>(8, 1.0));
  CHECK(bn.buffer("running_var").to_vector<double>() == std::vector<double>(8, 1.0));
}

TEST_CASE("initialisers use the documented fans and scales") {
  Generator gen(1);
  Tensor w = empty({200, 300});
  init::kaiming_normal_(w, 0.0, gen);
  double var = mean(pow(w, 2)).item();
  CHECK(var == doctest::Approx(2.0 / 300).epsilon(0.05));  // gain^2 / fan_in with gain sqrt(2)
  init::xavier_uniform_(w, 1.0, gen);
  CHECK(mean(pow(w, 2)).item() == doctest::Approx(2.0 / 500).epsilon(0.05));  // a^2/3 = 2/(fan_in+fan_out)
  init::constant_(w, 0.25);
  CHECK(w.at({3, 4}) == 0.25);
}

TEST_CASE("named parameters and buffers nest with dotted names in registration order") {
  auto net = std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
      std::make_shared<Linear>(4, 3), std::make_shared<BatchNorm1d>(3), std::make_shared<ReLU>(),
      std::make_shared<Linear>(3, 1, false)});
  std::vector<std::string> names;
  for (auto& [name, t] : net->named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.weight"});
  std::vector<std::string> buffers;
  for (auto& [name, t] : net->named_buffers()) buffers.push_back(name);
  CHECK(buffers == std::vector<std::string>{"1.running_mean", "1.running_var"});
  CHECK(net->parameters().size() == 5);
  CHECK(net->state_dict().size() == 7);
}

TEST_CASE("train and eval propagate to every child") {
  Sequential net{std::make_shared<Linear>(2, 2), std::make_shared<Dropout>(0.5)};
  net.eval();
  CHECK_FALSE(net[1]->is_training());
  net.train();
  CHECK(net[1]->is_training());
}

TEST_CASE("a state dict round trip gives identical outputs") {
  Generator g1(1), g2(2);
  auto make = [](Generator& gen) {
    return Sequential{std::make_shared<Conv2d>(1, 4, 3, 1, 1, true, gen), std::make_shared<BatchNorm2d>(4),
                      std::make_shared<ReLU>(), std::make_shared<Flatten>(),
                      std::make_shared<Linear>(4 * 5 * 5, 2, true, gen)};
  };
  Sequential a = make(g1), b = make(g2);
  Tensor x = randn({3, 1, 5, 5}, g1);
  a(x);  // one training forward: running statistics move away from their defaults
  a.eval();
  b.eval();
  CHECK(a(x).to_vector<double>() != b(x).to_vector<double>());
  b.load_state_dict(a.state_dict());
  CHECK(a(x).to_vector<double>() == b(x).to_vector<double>());
}

TEST_CASE("load_state_dict is strict about keys and shapes") {
  Linear a(3, 2), b(3, 2, false), c(4, 2);
  CHECK_THROWS_WITH_AS(b.load_state_dict(a.state_dict()), doctest::Contains("unexpected keys: bias"), Error);
  CHECK_THROWS_WITH_AS(a.load_state_dict(b.state_dict()), doctest::Contains("missing keys: bias"), Error);
  CHECK_THROWS_WITH_AS(c.load_state_dict(a.state_dict()), doctest::Contains("weight: expected [2, 4], got [2, 3]"),
                       Error);
  b.load_state_dict(a.state_dict(), /*strict=*/false);
  CHECK(b.raw_param("weight").to_vector<double>() == a.raw_param("weight").to_vector<double>());
}

TEST_CASE("zero_grad clears every parameter's gradient") {
  Linear layer(3, 2);
  sum(layer(ones({1, 3}))).backward();
  CHECK(layer.raw_param("weight").grad().defined());
  layer.zero_grad();
  CHECK_FALSE(layer.raw_param("weight").grad().defined());
  CHECK_FALSE(layer.raw_param("bias").grad().defined());
}

namespace {
// Doubles the weight on every read: a stand-in for spectral normalisation.
struct Doubling : Parametrization {
  Tensor apply(Module&, const Tensor& original) override { return original * 2.0; }
  std::string describe() const override { return "doubling"; }
};
}  // namespace

TEST_CASE("a parametrization changes what the layer computes with, not the layer's code") {
  Linear layer(2, 1, false);
  {
    NoGradGuard no_grad;
    layer.raw_param("weight").copy_(tensor({{1, 3}}));
  }
  Tensor x = tensor({{1, 1}});
  CHECK(layer(x).item() == 4);
  layer.set_parametrization("weight", std::make_shared<Doubling>());
  CHECK(layer(x).item() == 8);
  sum(layer(x)).backward();  // d/dW of 2 W x = 2 x: the gradient reaches the trainable tensor
  CHECK(layer.raw_param("weight").grad().to_vector<double>() == std::vector<double>{2, 2});
  std::ostringstream os;
  os << layer;
  CHECK(os.str().find("weight: doubling") != std::string::npos);
  layer.remove_parametrization("weight");
  CHECK(layer(x).item() == 4);
}

TEST_CASE("layers' forward and backward pass gradcheck in float64") {
  Generator gen(2);
  auto check_layer = [&](Module& layer, const Shape& input_shape) {
    std::vector<Tensor> inputs{uniform(input_shape, -1, 1, gen, {DType::Float64, Device::cpu(), true})};
    for (Tensor& p : layer.parameters()) inputs.push_back(p);
    auto params = layer.parameters();
    GradcheckResult r = gradcheck(
        [&](const TensorList& in) {
          NoGradGuard outer_off;  // swap in the gradcheck leaves as the layer's parameters
          for (std::size_t k = 0; k < params.size(); ++k) layer.raw_param(layer.named_parameters()[k].first) = in[k + 1];
          GradMode::set_enabled(true);
          Tensor y = layer(in[0]);
          return y;
        },
        inputs);
    CHECK_MESSAGE(r.passed, layer.type_name() << ": " << r.report);
  };
  Linear linear(3, 2, true, gen, DType::Float64);
  check_layer(linear, {4, 3});
  Conv2d conv(2, 3, 3, 2, 1, true, gen, DType::Float64);
  check_layer(conv, {2, 2, 5, 5});
  ConvTranspose2d deconv(3, 2, 4, 2, 1, true, gen, DType::Float64);
  check_layer(deconv, {2, 3, 3, 3});
  BatchNorm1d bn(3, 0.1, 1e-5, DType::Float64);
  check_layer(bn, {5, 3});
}

TEST_CASE("Reshape and Flatten keep the batch dimension") {
  Reshape reshape({128, 7, 7});
  CHECK(reshape(zeros({2, 6272})).shape() == Shape{2, 128, 7, 7});
  Flatten flatten;
  CHECK(flatten(zeros({2, 128, 7, 7})).shape() == Shape{2, 6272});
}

#include <filesystem>

#include "io/checkpoint.h"

TEST_CASE("a model saved to a checkpoint file reloads into a fresh model with identical predictions") {
  Generator g1(1), g2(2);
  auto make = [](Generator& gen) {
    return Sequential{std::make_shared<Conv2d>(1, 4, 3, 1, 1, true, gen), std::make_shared<BatchNorm2d>(4),
                      std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2), std::make_shared<Flatten>(),
                      std::make_shared<Linear>(4 * 4 * 4, 3, true, gen)};
  };
  Sequential trained = make(g1), fresh = make(g2);
  Tensor x = randn({5, 1, 8, 8}, g1);
  trained(x);  // a training-mode forward moves the batch-norm statistics
  trained.eval();
  fresh.eval();
  std::string path = (std::filesystem::temp_directory_path() / "sigmagrad_test_model.ckpt").string();
  Checkpoint saved;
  saved.tensors = trained.state_dict();
  save_checkpoint(path, saved);
  fresh.load_state_dict(load_checkpoint(path).tensors);
  std::filesystem::remove(path);
  CHECK(fresh(x).to_vector<double>() == trained(x).to_vector<double>());
}

TEST_CASE("a backward into the generator gives it backward()'s gradient and none to an SN critic's weight") {
  // G step in miniature: loss = sum(D(G(z))), D's layer spectrally normalised (eval: u, v
  // fixed, so both backwards see the same W_sn).
  Generator gen(21);
  Linear g(3, 5, true, gen, DType::Float64), d(5, 2, true, gen, DType::Float64);
  spectral_norm(d);
  d.eval();
  Generator z_gen(22);
  Tensor z = randn({4, 3}, z_gen, {DType::Float64});
  std::vector<cpu::GemmCall> full_gemms, named_gemms;
  Tensor loss = sum(d.forward(g.forward(z)));
  cpu::record_gemm_calls(&full_gemms);
  loss.backward();
  cpu::record_gemm_calls(nullptr);
  std::vector<std::vector<double>> full;
  for (const Tensor& p : g.parameters()) full.push_back(p.grad().to_vector<double>());
  g.zero_grad();
  d.zero_grad();
  loss = sum(d.forward(g.forward(z)));
  cpu::record_gemm_calls(&named_gemms);
  loss.backward_into(g.parameters());
  cpu::record_gemm_calls(nullptr);
  for (std::size_t i = 0; i < full.size(); ++i) CHECK(g.parameters()[i].grad().to_vector<double>() == full[i]);
  for (const Tensor& p : d.parameters()) CHECK_FALSE(p.grad().defined());
  // D's weight-gradient product is the one the full backward makes and this one does not.
  CHECK(named_gemms.size() + 1 == full_gemms.size());
}

TEST_CASE("requires_grad_(false) freezes a module: a backward through it fills its inputs' gradients, none of its own") {
  // loss = sum(D(G(z))) with D frozen: G's gradients as with D trainable, D's none, and
  // D's weight-gradient product not computed.
  auto run = [](bool freeze_d, std::vector<cpu::GemmCall>* gemms) {
    Generator gen(31);
    Linear g(3, 5, true, gen, DType::Float64), d(5, 2, true, gen, DType::Float64);
    if (freeze_d) d.requires_grad_(false);
    Generator z_gen(32);
    Tensor loss = sum(d.forward(g.forward(randn({4, 3}, z_gen, {DType::Float64}))));
    cpu::record_gemm_calls(gemms);
    loss.backward();
    cpu::record_gemm_calls(nullptr);
    std::vector<std::vector<double>> grads;
    for (const Tensor& p : g.parameters()) grads.push_back(p.grad().to_vector<double>());
    for (const Tensor& p : d.parameters()) CHECK(p.grad().defined() == !freeze_d);
    return grads;
  };
  std::vector<cpu::GemmCall> trainable_gemms, frozen_gemms;
  const auto trainable = run(false, &trainable_gemms);
  const auto frozen = run(true, &frozen_gemms);
  CHECK(frozen == trainable);  // bit for bit
  CHECK(frozen_gemms.size() + 1 == trainable_gemms.size());
}

TEST_CASE("requires_grad_(true) makes a frozen module's parameters trainable again") {
  Linear layer(2, 3);
  CHECK(&layer.requires_grad_(false) == &layer);  // returns the module, for chaining
  for (const Tensor& p : layer.parameters()) CHECK_FALSE(p.requires_grad());
  layer.requires_grad_(true);
  for (const Tensor& p : layer.parameters()) CHECK(p.requires_grad());
}
