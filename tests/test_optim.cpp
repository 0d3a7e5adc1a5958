// Optimisers against values computed by hand from their update equations.
// Every case minimises L = p^2 / 2 from p = 1, so the gradient is p itself.
#include <doctest/doctest.h>

#include <cmath>

#include "core/captured_step.h"
#include "ops/ops.h"
#include "optim/adam.h"
#include "optim/sgd.h"

using namespace sg;

namespace {
Tensor scalar_param(double value) { return full({1}, value, {DType::Float64, Device::cpu(), true}); }

template <class Opt>
std::vector<double> run(Opt& opt, Tensor& p, int steps) {
  std::vector<double> trajectory;
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    sum(pow(p, 2) * 0.5).backward();
    opt.step();
    trajectory.push_back(p.item());
  }
  return trajectory;
}
}  // namespace

TEST_CASE("SGD without momentum: p -= lr * grad") {
  Tensor p = scalar_param(1.0);
  SGD opt({p}, {.lr = 0.1});
  std::vector<double> t = run(opt, p, 2);
  CHECK(t[0] == doctest::Approx(0.9).epsilon(1e-14));   // 1 - 0.1*1
  CHECK(t[1] == doctest::Approx(0.81).epsilon(1e-14));  // 0.9 - 0.1*0.9
}

TEST_CASE("SGD with momentum accumulates a velocity") {
  // buf1 = 1, p1 = 0.9; buf2 = 0.9*1 + 0.9 = 1.8, p2 = 0.72; buf3 = 0.9*1.8 + 0.72 = 2.34, p3 = 0.486
  Tensor p = scalar_param(1.0);
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
  std::vector<double> t = run(opt, p, 3);
  CHECK(t[0] == doctest::Approx(0.9).epsilon(1e-14));
  CHECK(t[1] == doctest::Approx(0.72).epsilon(1e-14));
  CHECK(t[2] == doctest::Approx(0.486).epsilon(1e-14));
}

TEST_CASE("SGD with Nesterov momentum looks ahead") {
  // step 1: buf = 1, d = 1 + 0.9*1 = 1.9, p = 0.81
  // step 2: g = 0.81, buf = 0.9 + 0.81 = 1.71, d = 0.81 + 0.9*1.71 = 2.349, p = 0.5751
  Tensor p = scalar_param(1.0);
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  std::vector<double> t = run(opt, p, 2);
  CHECK(t[0] == doctest::Approx(0.81).epsilon(1e-14));
  CHECK(t[1] == doctest::Approx(0.5751).epsilon(1e-14));
}

TEST_CASE("SGD weight decay adds weight_decay * p to the gradient") {
  Tensor p = scalar_param(1.0);
  SGD opt({p}, {.lr = 0.1, .weight_decay = 0.1});
  CHECK(run(opt, p, 1)[0] == doctest::Approx(0.89).epsilon(1e-14));  // 1 - 0.1*(1 + 0.1)
}

TEST_CASE("Adam's first step moves each weight by about lr") {
  // m = 0.1, v = 0.001, bias corrections 0.1 and 0.001: update = 0.1 * 1 / (1 + 1e-8)
  Tensor p = scalar_param(1.0);
  Adam opt({p}, {.lr = 0.1});
  CHECK(run(opt, p, 1)[0] == doctest::Approx(1.0 - 0.1 / (1 + 1e-8)).epsilon(1e-14));
}

TEST_CASE("Adam and AdamW follow their update equations for several steps") {
  for (bool decoupled : {false, true}) {
    CAPTURE(decoupled);
    const double lr = 0.05, b1 = 0.8, b2 = 0.99, eps = 1e-6, wd = 0.1;
    Tensor p = scalar_param(1.0);
    Adam opt({p}, {.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd,
                   .decoupled_weight_decay = decoupled});
    std::vector<double> got = run(opt, p, 4);
    // The equations of optim/adam.h, in scalar form.
    double w = 1, m = 0, v = 0;
    for (int t = 1; t <= 4; ++t) {
      double g = w;
      if (decoupled) w *= 1 - lr * wd;
      else g += wd * w;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      double m_hat = m / (1 - std::pow(b1, t)), v_hat = v / (1 - std::pow(b2, t));
      w -= lr * m_hat / (std::sqrt(v_hat) + eps);
      CHECK(got[static_cast<std::size_t>(t - 1)] == doctest::Approx(w).epsilon(1e-13));
    }
  }
}

TEST_CASE("parameters without a gradient are not stepped") {
  Tensor used = scalar_param(1.0), unused = scalar_param(5.0);
  Adam opt({used, unused}, {.lr = 0.1});
  sum(used * 2.0).backward();
  opt.step();
  CHECK(unused.item() == 5.0);
  CHECK(opt.steps(0) == 1);
  CHECK(opt.steps(1) == 0);
}

namespace {
// Adam's update of a weight w with gradient w (L = w^2 / 2), from moments m, v at step t
// (the equations of optim/adam.h in scalar form, defaults beta1 0.9, beta2 0.999, eps 1e-8).
double adam_update(double w, double& m, double& v, int t, double lr) {
  m = 0.9 * m + 0.1 * w;
  v = 0.999 * v + 0.001 * w * w;
  return w - lr * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8);
}
}  // namespace

TEST_CASE("Adam counts steps per parameter: each one's bias correction uses its own count") {
  Tensor a = scalar_param(1.0), b = scalar_param(1.0);
  Adam opt({a, b}, {.lr = 0.1});
  for (int k = 0; k < 2; ++k) {  // b alone, twice (a has no gradient)
    opt.zero_grad();
    sum(mul(b, b) * 0.5).backward();
    opt.step();
  }
  opt.zero_grad();
  sum(mul(a, a) * 0.5 + mul(b, b) * 0.5).backward();
  opt.step();  // both
  CHECK(opt.steps(0) == 1);
  CHECK(opt.steps(1) == 3);
  double wa = 1, ma = 0, va = 0, wb = 1, mb = 0, vb = 0;
  wa = adam_update(wa, ma, va, 1, 0.1);
  for (int t = 1; t <= 3; ++t) wb = adam_update(wb, mb, vb, t, 0.1);
  CHECK(a.item() == doctest::Approx(wa).epsilon(1e-14));
  CHECK(b.item() == doctest::Approx(wb).epsilon(1e-14));
}

TEST_CASE("a frozen parameter is accepted, left alone while frozen, and stepped from its own step 1 once unfrozen") {
  // Accepted as in PyTorch; while frozen it gets no .grad and step() skips it.
  Tensor trained = scalar_param(1.0), frozen = scalar_param(1.0);
  frozen.requires_grad_(false);
  Adam opt({trained, frozen}, {.lr = 0.1});
  auto step_on_both = [&] {
    opt.zero_grad();
    sum(mul(trained, trained) * 0.5 + mul(frozen, frozen) * 0.5).backward();
    opt.step();
  };
  step_on_both();
  CHECK(frozen.item() == 1.0);
  CHECK_FALSE(frozen.grad().defined());
  CHECK(opt.steps(1) == 0);
  frozen.requires_grad_(true);
  step_on_both();
  CHECK(opt.steps(0) == 2);
  CHECK(opt.steps(1) == 1);
  double wt = 1, mt = 0, vt = 0, wf = 1, mf = 0, vf = 0;
  for (int t = 1; t <= 2; ++t) wt = adam_update(wt, mt, vt, t, 0.1);
  wf = adam_update(wf, mf, vf, 1, 0.1);  // its first step: bias correction at t = 1
  CHECK(trained.item() == doctest::Approx(wt).epsilon(1e-14));
  CHECK(frozen.item() == doctest::Approx(wf).epsilon(1e-14));
}

TEST_CASE("a parameter frozen while it holds a .grad is not stepped by SGD or Adam (unlike PyTorch)") {
  // Frozen means unchanged: a gradient left from before the freeze is not applied, nor
  // Adam's moments (which would move it with a zero gradient too).
  Tensor p_sgd = scalar_param(1.0), p_adam = scalar_param(1.0);
  SGD sgd({p_sgd}, {.lr = 0.1, .momentum = 0.9});
  Adam adam({p_adam}, {.lr = 0.1});
  for (int k = 0; k < 2; ++k) {  // two real steps: momentum and moments are non-zero
    sgd.zero_grad();
    adam.zero_grad();
    sum(mul(p_sgd, p_sgd) * 0.5 + mul(p_adam, p_adam) * 0.5).backward();
    sgd.step();
    adam.step();
  }
  const double sgd_value = p_sgd.item(), adam_value = p_adam.item();
  p_sgd.requires_grad_(false);
  p_adam.requires_grad_(false);
  REQUIRE(p_sgd.grad().defined());  // the last step's gradient is still there
  sgd.step();
  adam.step();
  CHECK(p_sgd.item() == sgd_value);
  CHECK(p_adam.item() == adam_value);
  CHECK(adam.steps(0) == 2);
}

TEST_CASE("Adam continues from a loaded step count: the next update is step count + 1") {
  Tensor p = scalar_param(1.0), q = scalar_param(0.0);
  Adam a({p}, {.lr = 0.1});
  run(a, p, 7);
  Adam b({q}, {.lr = 0.1});
  b.load_state_dict(a.state_dict());
  CHECK(b.steps(0) == 7);
  // The state after 7 steps from w = 1, by hand; then step 8 from it.
  double w = 1, m = 0, v = 0;
  for (int t = 1; t <= 7; ++t) w = adam_update(w, m, v, t, 0.1);
  {
    NoGradGuard no_grad;
    q.fill_(w);
  }
  const double expected = adam_update(w, m, v, 8, 0.1);
  CHECK(run(b, q, 1)[0] == doctest::Approx(expected).epsilon(1e-13));
  CHECK(b.steps(0) == 8);
}

TEST_CASE("a learning rate set between runs of a captured step is the one the next run uses") {
  // (On a GPU the rate is read by the replayed kernels from the device: tests/test_cuda.cpp.)
  Tensor p = scalar_param(1.0);
  Adam opt({p}, {.lr = 0.1});
  CapturedStep step(Device::cpu(), [&] {
    opt.zero_grad();
    sum(pow(p, 2) * 0.5).backward();
    opt.step();
  });
  double w = 1, m = 0, v = 0;
  for (int t = 1; t <= 4; ++t) {
    const double lr = 0.1 / t;  // a decaying schedule
    opt.set_lr(lr);
    step.run();
    w = adam_update(w, m, v, t, lr);
    CHECK(p.item() == doctest::Approx(w).epsilon(1e-14));
  }
}

TEST_CASE("set_lr inside a captured step is refused: the recording would keep that rate") {
  Tensor p = scalar_param(1.0);
  SGD opt({p}, {.lr = 0.1});
  CapturedStep step(Device::cpu(), [&] { opt.set_lr(0.5); });
  step.run();  // the warm-up is not checked
  CHECK_THROWS_WITH_AS(step.run(), doctest::Contains("set_lr() (a rate to set between runs) inside a captured step"),
                       Error);
}

TEST_CASE("an optimiser's state round-trips through its state dict") {
  Tensor p1 = scalar_param(1.0), p2 = scalar_param(1.0);
  Adam a({p1}, {.lr = 0.1}), b({p2}, {.lr = 0.1});
  run(a, p1, 3);
  {
    NoGradGuard no_grad;
    p2.copy_(p1);
  }
  b.load_state_dict(a.state_dict());
  CHECK(run(a, p1, 2) == run(b, p2, 2));  // identical continuation
  SGD sgd({p1}, {.lr = 0.1, .momentum = 0.9});
  CHECK_THROWS_WITH_AS(sgd.load_state_dict(a.state_dict()), doctest::Contains("unexpected key"), Error);
}

TEST_CASE("optimiser arguments are validated") {
  Tensor p = scalar_param(1.0);
  CHECK_THROWS_WITH_AS(Adam({p}, {.beta1 = 1.0}), doctest::Contains("betas in [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(SGD({p}, {.lr = 0.1, .nesterov = true}), doctest::Contains("Nesterov"), Error);
  CHECK_THROWS_WITH_AS(SGD({mul(p, p)}, {}), doctest::Contains("must be a leaf tensor (got the result of 'mul'"),
                       Error);
  CHECK_THROWS_WITH_AS(SGD({zeros({2}, {DType::Int64})}, {}), doctest::Contains("has dtype int64, expected float32"),
                       Error);
}
