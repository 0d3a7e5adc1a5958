// The Lipschitz report (tools/lipschitz.h): both bounds and the per-layer columns.
#include <doctest/doctest.h>

#include <cmath>

#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "tools/lipschitz.h"

using namespace sg;

namespace {
std::shared_ptr<Sequential> small_discriminator(Generator& gen) {
  return std::make_shared<Sequential>(Sequential{
      std::make_shared<Conv2d>(1, 3, 3, 2, 1, true, gen, DType::Float64), std::make_shared<LeakyReLU>(0.2),
      std::make_shared<Flatten>(), std::make_shared<Linear>(3 * 3 * 3, 1, true, gen, DType::Float64)});
}
}  // namespace

TEST_CASE("the Lipschitz report brackets the network: empirical <= certified, per layer lower <= upper") {
  Generator gen(1);
  auto d = small_discriminator(gen);
  spectral_norm(*(*d)[0]);
  Tensor inputs = randn({16, 1, 6, 6}, gen, {DType::Float64});
  LipschitzReport r = lipschitz_report(*d, {1, 1, 6, 6}, inputs);
  REQUIRE(r.layers.size() == 4);
  CHECK(r.layers[0].input_shape == Shape{1, 1, 6, 6});
  CHECK(r.layers[3].input_shape == Shape{1, 27});
  CHECK(r.layers[0].operator_lower <= r.layers[0].certified_upper * (1 + 1e-12));
  CHECK(r.layers[1].certified_upper == 1.0);  // LeakyReLU(0.2)
  // A (1 x 27) Linear weight's spectral norm is its Euclidean length, summed here by hand.
  double squares = 0;
  for (double x : (*d)[3]->param("weight").to_vector<double>()) squares += x * x;
  CHECK(r.layers[3].certified_upper == doctest::Approx(std::sqrt(squares)).epsilon(1e-12));
  CHECK(r.layers[3].operator_lower == r.layers[3].certified_upper);
  double product = 1;
  for (const LayerLipschitz& l : r.layers) product *= l.certified_upper;
  CHECK(r.certified_bound == doctest::Approx(product).epsilon(1e-12));
  CHECK(r.empirical_lower <= r.certified_bound);
  CHECK(r.empirical_samples == 16);
  CHECK(r.table().find("certified upper bound of the network") != std::string::npos);
}

TEST_CASE("the empirical bound is the largest per-sample input-gradient norm, computed one sample at a time") {
  Generator gen(2);
  auto d = small_discriminator(gen);
  Tensor inputs = randn({5, 1, 6, 6}, gen, {DType::Float64});
  LipschitzReport r = lipschitz_report(*d, {1, 1, 6, 6}, inputs);
  d->eval();
  double largest = 0;
  for (int64_t i = 0; i < 5; ++i) {
    Tensor x = inputs.slice(0, i, i + 1).clone().requires_grad_(true);
    TensorList g = grad(sum(d->forward(x)), {x}, Tensor(), false);
    largest = std::max(largest, std::sqrt(sum(mul(g[0], g[0])).item()));
  }
  CHECK(r.empirical_lower == doctest::Approx(largest).epsilon(1e-12));
}

TEST_CASE("the Lipschitz report restores training mode and changes no SN vector") {
  Generator gen(3);
  auto d = small_discriminator(gen);
  spectral_norm(*(*d)[0]);
  (*d)(randn({2, 1, 6, 6}, gen, {DType::Float64}));  // a training forward: u, v and sigma as in training
  std::map<std::string, Tensor> before;
  for (auto& [name, t] : d->state_dict()) before[name] = t.clone();
  lipschitz_report(*d, {1, 1, 6, 6});
  CHECK(d->is_training());
  for (const auto& entry : d->state_dict()) {  // (clang cannot capture a structured binding in CAPTURE)
    CAPTURE(entry.first);
    CHECK(max(abs(entry.second.to(DType::Float64) - before.at(entry.first).to(DType::Float64))).item() == 0.0);
  }
}

TEST_CASE("the Lipschitz report refuses a layer whose bound it does not know") {
  struct Square : Module {
    Tensor forward(const Tensor& x) override { return mul(x, x); }
    std::string type_name() const override { return "Square"; }
  };
  Sequential model{std::make_shared<Square>()};
  CHECK_THROWS_WITH_AS(lipschitz_report(model, {1, 3}), doctest::Contains("no Lipschitz bound is known for a Square"), Error);
}
