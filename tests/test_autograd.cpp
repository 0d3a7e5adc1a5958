// The autograd engine: graph recording, backward, accumulation, grad mode,
// retained graphs, saved-tensor versions, deep graphs.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <thread>

#include "core/generator.h"
#include "cpu/gemm.h"
#include "ops/ops.h"

using namespace sg;

namespace {
Tensor leaf(std::initializer_list<double> values) {
  return tensor(values, {DType::Float64, Device::cpu(), true});
}

// a * b recorded as an op whose backward writes into `asked` which input gradients the
// engine asked for, and returns those (d/da = b, d/db = a).
Tensor spy_product(const Tensor& a, const Tensor& b, std::vector<bool>& asked) {
  Tensor product;
  {
    NoGradGuard no_grad;
    product = a * b;
  }
  const Tensor a_value = a.detach(), b_value = b.detach();
  return record("spy", {a, b}, product, [&asked, a_value, b_value](const Tensor& g, const std::vector<bool>& needs) {
    asked = needs;
    return TensorList{needs[0] ? g * b_value : Tensor(), needs[1] ? g * a_value : Tensor()};
  });
}
}  // namespace

TEST_CASE("backward of a scalar fills the leaves' .grad") {
  // f = sum(x * y + x),  df/dx = y + 1,  df/dy = x
  Tensor x = leaf({1, 2, 3}), y = leaf({4, 5, 6});
  Tensor f = sum(x * y + x);
  f.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 6, 7});
  CHECK(y.grad().to_vector<double>() == std::vector<double>{1, 2, 3});
}

TEST_CASE("backward with an explicit output gradient computes a vector-Jacobian product") {
  // y = x^2 elementwise, v^T J = v * 2x
  Tensor x = leaf({1, 2, 3});
  Tensor y = pow(x, 2);
  y.backward(tensor({1, 0.5, -1}, {DType::Float64}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 2, -6});
}

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  Tensor x = leaf({1, 2});
  sum(x * 3.0).backward();
  sum(x * 3.0).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{6, 6});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 1});
}

TEST_CASE("a tensor used twice receives the sum of both gradients") {
  // f = sum(x * x) + sum(x),  df/dx = 2x + 1   (a diamond: x feeds two branches)
  Tensor x = leaf({1, -2});
  Tensor f = sum(x * x) + sum(x);
  f.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, -3});
}

TEST_CASE("results require grad only when an input does") {
  Tensor a = leaf({1}), b = tensor({2}, {DType::Float64});
  CHECK((a * b).requires_grad());
  CHECK_FALSE((b * b).requires_grad());
  CHECK((a * b).grad_fn() != nullptr);
  CHECK((b * b).grad_fn() == nullptr);
  CHECK(a.is_leaf());
  CHECK_FALSE((a * b).is_leaf());
}

TEST_CASE("inputs that do not require grad get no gradient") {
  Tensor a = leaf({1, 2}), b = tensor({3, 4}, {DType::Float64});
  sum(a * b).backward();
  CHECK(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("detach cuts the graph but shares the data") {
  Tensor x = leaf({2});
  Tensor d = (x * 3.0).detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.item() == 6);
  Tensor f = sum(x * d);  // d is a constant here: df/dx = d = 6
  f.backward();
  CHECK(x.grad().item() == 6);
}

TEST_CASE("no graph is recorded under NoGradGuard, and it is restored afterwards") {
  Tensor x = leaf({1});
  {
    NoGradGuard guard;
    CHECK_FALSE(GradMode::is_enabled());
    CHECK_FALSE((x * 2.0).requires_grad());
  }
  CHECK(GradMode::is_enabled());
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("grad mode is per thread") {
  Tensor x = leaf({1});
  NoGradGuard guard;
  bool recorded_in_other_thread = false;
  std::thread other([&] { recorded_in_other_thread = (x * 2.0).requires_grad(); });
  other.join();
  CHECK(recorded_in_other_thread);
  CHECK_FALSE((x * 2.0).requires_grad());
}

TEST_CASE("a second backward through a freed graph is an error, retain_graph allows it") {
  Tensor x = leaf({1, 2});
  Tensor f = sum(exp(x));
  f.backward(Tensor(), /*retain_graph=*/true);
  f.backward();
  std::vector<double> g = x.grad().to_vector<double>();
  CHECK(g[0] == doctest::Approx(2 * std::exp(1.0)));
  CHECK_THROWS_WITH_AS(f.backward(), doctest::Contains("a second time"), Error);
}

TEST_CASE("modifying a saved tensor in place makes backward fail, not lie") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 2.0;  // not saved by anyone yet
  Tensor e = exp(y);   // exp saves its output e
  {
    NoGradGuard guard;
    e.fill_(0.0);
  }
  CHECK_THROWS_WITH_AS(sum(e).backward(), doctest::Contains("modified by an in-place operation"), Error);
}

TEST_CASE("an in-place write to a tensor that requires grad is refused while recording") {
  Tensor x = leaf({1, 2});
  CHECK_THROWS_WITH_AS(x.fill_(0.0), doctest::Contains("requires grad"), Error);
  NoGradGuard guard;
  x.add_(ones({2}, {DType::Float64}), 1.0);  // optimiser-style update: allowed
  CHECK(x.to_vector<double>() == std::vector<double>{2, 3});
}

TEST_CASE("retain_grad keeps the gradient of an intermediate result") {
  // y = 3x, f = sum(y^2): df/dy = 2y = 6x
  Tensor x = leaf({1, 2});
  Tensor y = x * 3.0;
  y.retain_grad();
  sum(pow(y, 2)).backward();
  CHECK(y.grad().to_vector<double>() == std::vector<double>{6, 12});
  CHECK(x.grad().to_vector<double>() == std::vector<double>{18, 36});
}

TEST_CASE("grad() returns gradients without touching .grad") {
  Tensor x = leaf({1, 2});
  Tensor f = sum(x * x);
  TensorList g = grad(f, {x}, Tensor());
  CHECK(g[0].to_vector<double>() == std::vector<double>{2, 4});
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("backward over a 100,000-op chain neither recurses nor overflows") {
  Tensor x = leaf({1});
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0;
  y = sum(y);
  y.backward();
  CHECK(x.grad().item() == 1);
  // Dropping the last handle frees the whole chain, down to x's AccumulateGrad node at
  // its bottom (x itself holds that node only weakly); a recursive destructor would
  // overflow the stack on the way.
  std::weak_ptr<Node> bottom = gradient_edge(x);
  REQUIRE_FALSE(bottom.expired());
  y = Tensor();
  CHECK(bottom.expired());
}

TEST_CASE("backward without retain_graph frees the saved tensors as it goes") {
  // mul saves both inputs. Once c's own handle is gone, only mul's node keeps c's
  // storage alive; a backward that does not retain the graph must let it go.
  Tensor x = leaf({1, 2});
  Tensor c = tensor({3, 4}, {DType::Float64});
  std::weak_ptr<Storage> c_storage = c.impl()->storage;
  Tensor f = sum(x * c);
  c = Tensor();
  f.backward(Tensor(), /*retain_graph=*/true);
  CHECK_FALSE(c_storage.expired());
  CHECK_FALSE(f.grad_fn()->released());
  f.backward();
  CHECK(c_storage.expired());
  CHECK(f.grad_fn()->released());
  CHECK(x.grad().to_vector<double>() == std::vector<double>{6, 8});  // df/dx = c, twice
}

TEST_CASE("backward through views reaches the viewed tensor") {
  // f = sum of column 1 of x^T (= row 1 of x) times 2
  Tensor x = tensor({{1, 2}, {3, 4}}, {DType::Float64, Device::cpu(), true});
  sum(x.t().select(1, 1) * 2.0).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0, 2, 2});
}

TEST_CASE("anomaly mode names the op whose backward produced a NaN") {
  Tensor x = leaf({0.0});
  set_detect_anomaly(true);
  // d sqrt(x)/dx at 0 is 1/(2*0) = inf, and inf * 0 from the mul gives nan further on.
  CHECK_THROWS_WITH_AS(sum(sqrt(x)).backward(), doctest::Contains("sqrt"), Error);
  set_detect_anomaly(false);
}

TEST_CASE("grad() w.r.t. an intermediate and a leaf gets both gradients and touches no .grad") {
  // h = 2x, y = sum(h * x) = sum(2 x^2):  dy/dh = x,  dy/dx (total) = 4x
  Tensor x = leaf({1, 2}), w = leaf({3, 4});
  Tensor h = x * 2.0;
  Tensor y = sum(h * x) + sum(w * 0.5);
  TensorList g = grad(y, {h, x}, Tensor());
  CHECK(g[0].to_vector<double>() == std::vector<double>{1, 2});
  CHECK(g[1].to_vector<double>() == std::vector<double>{4, 8});
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(w.grad().defined());  // not asked for: its AccumulateGrad must not run
}

TEST_CASE("backward_into fills only the named leaves' .grad") {
  // f = sum(x * y + x):  df/dx = y + 1; y is not named, so y.grad stays empty
  Tensor x = leaf({1, 2, 3}), y = leaf({4, 5, 6});
  sum(x * y + x).backward_into({x});
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 6, 7});
  CHECK_FALSE(y.grad().defined());
}

TEST_CASE("backward_into adds to .grad like backward()") {
  Tensor x = leaf({1, 2}), y = leaf({3, 4});
  sum(x * y).backward_into({x});
  sum(x * y).backward_into({x});
  CHECK(x.grad().to_vector<double>() == std::vector<double>{6, 8});  // 2y
}

TEST_CASE("backward_into asks an op only for the input gradients that lead to the named leaves") {
  Tensor a = leaf({1, 2}), b = leaf({3, 4});
  std::vector<bool> asked;
  sum(spy_product(a, b, asked)).backward_into({a});
  CHECK(asked == std::vector<bool>{true, false});
  CHECK(a.grad().to_vector<double>() == std::vector<double>{3, 4});
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("grad() asks an op only for the input gradients that lead to the inputs asked about") {
  Tensor a = leaf({1, 2}), b = leaf({3, 4});
  std::vector<bool> asked;
  TensorList g = grad(sum(spy_product(a, b, asked)), {b}, Tensor());
  CHECK(asked == std::vector<bool>{false, true});
  CHECK(g[0].to_vector<double>() == std::vector<double>{1, 2});  // d/db sum(a * b) = a
}

TEST_CASE("backward into a generator's weight gives it backward()'s gradient and skips the critic's weight gradient") {
  // A G step in miniature: loss = sum(D(G(z))) with linear G and D; only G's weight is named.
  auto weights = [] {
    Generator gen(7);
    return std::pair{randn({4, 3}, gen, {DType::Float64}).requires_grad_(true),
                     randn({1, 4}, gen, {DType::Float64}).requires_grad_(true)};
  };
  Tensor z = tensor({0.5, -1.0, 2.0, 0.25, 1.5, -0.75}, {DType::Float64}).reshape({2, 3});
  auto [g_full, d_full] = weights();
  std::vector<cpu::GemmCall> full_gemms, named_gemms;
  Tensor full_loss = sum(linear(linear(z, g_full, Tensor()), d_full, Tensor()));
  cpu::record_gemm_calls(&full_gemms);
  full_loss.backward();
  cpu::record_gemm_calls(nullptr);
  auto [g_named, d_named] = weights();
  Tensor loss = sum(linear(linear(z, g_named, Tensor()), d_named, Tensor()));
  cpu::record_gemm_calls(&named_gemms);
  loss.backward_into({g_named});
  cpu::record_gemm_calls(nullptr);
  CHECK(g_named.grad().to_vector<double>() == g_full.grad().to_vector<double>());  // bit for bit
  CHECK_FALSE(d_named.grad().defined());
  // backward() makes 3 products: D's input gradient, D's weight gradient, G's weight
  // gradient (z needs none); named, D's weight gradient is not computed.
  CHECK(full_gemms.size() == 3);
  CHECK(named_gemms.size() == 2);
}

TEST_CASE("backward_into writes no .grad but the named leaves', not even a retain_grad result's") {
  Tensor x = leaf({1, 2}), w = leaf({3, 4});
  Tensor h = x * w;
  h.retain_grad();
  sum(h * 2.0).backward_into({x});
  CHECK(x.grad().to_vector<double>() == std::vector<double>{6, 8});  // 2w
  CHECK_FALSE(h.grad().defined());
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("backward_into refuses a leaf that does not require grad") {
  Tensor x = leaf({1, 2}), constant = tensor({3, 4}, {DType::Float64});
  CHECK_THROWS_WITH(sum(x * constant).backward_into({constant}), doctest::Contains("input 0 does not require grad"));
}

TEST_CASE("backward_into gives backward()'s gradients bit for bit on random graphs with shared subexpressions") {
  // 60 random graphs: 4 leaves, 8 ops each on any two earlier values (so values are reused
  // and paths merge), the loss a weighted sum of the last two; a random non-empty subset of leaves
  // is named. The reference is backward() on a second copy of the same graph.
  std::mt19937 rng(11);
  struct Step {
    int op, i, j;
  };
  auto make_leaves = [](uint64_t seed) {
    Generator gen(seed);
    std::vector<Tensor> leaves;
    for (int k = 0; k < 4; ++k) leaves.push_back(randn({3}, gen, {DType::Float64}).requires_grad_(true));
    return leaves;
  };
  auto build = [](const std::vector<Tensor>& leaves, const std::vector<Step>& recipe) {
    std::vector<Tensor> values = leaves;
    for (const Step& s : recipe) {
      const Tensor &a = values[s.i], &b = values[s.j];
      values.push_back(s.op == 0 ? a + b : s.op == 1 ? a * b : s.op == 2 ? a - b * 0.5 : tanh(a) * b);
    }
    // Weighted sums, so that the gradients reaching the graph are not all ones.
    const Tensor weights = tensor({0.5, -1.25, 2.0}, {DType::Float64});
    return sum(values.back() * weights) + sum(values[values.size() - 2] * (weights * -0.75));
  };
  for (int trial = 0; trial < 60; ++trial) {
    CAPTURE(trial);
    std::vector<Step> recipe;
    for (int k = 0; k < 8; ++k)
      recipe.push_back({static_cast<int>(rng() % 4), static_cast<int>(rng() % (4 + k)), static_cast<int>(rng() % (4 + k))});
    std::vector<bool> named(4);
    while (std::count(named.begin(), named.end(), true) == 0)
      for (int k = 0; k < 4; ++k) named[k] = rng() % 2 == 0;
    std::vector<Tensor> full = make_leaves(trial), pruned = make_leaves(trial), inputs;
    for (int k = 0; k < 4; ++k)
      if (named[k]) inputs.push_back(pruned[k]);
    build(full, recipe).backward();
    build(pruned, recipe).backward_into(inputs);
    for (int k = 0; k < 4; ++k) {
      CAPTURE(k);
      if (!named[k] || !full[k].grad().defined()) {
        CHECK_FALSE(pruned[k].grad().defined());  // not named, or not on any path to the loss
        continue;
      }
      REQUIRE(pruned[k].grad().defined());
      CHECK(pruned[k].grad().to_vector<double>() == full[k].grad().to_vector<double>());
    }
  }
}
