// gradcheck as a user-facing tool: it passes correct gradients and catches wrong ones.
#include <doctest/doctest.h>

#include "ops/ops.h"
#include "tools/gradcheck.h"

using namespace sg;

namespace {

Tensor f64(const Shape& shape, uint64_t seed, bool requires_grad = true) {
  Generator gen(seed);
  return uniform(shape, -1, 1, gen, {DType::Float64, Device::cpu(), requires_grad});
}

// A user op y = x^2 whose backward is given by `derivative` (g, x) -> dL/dx.
template <class Derivative>
Tensor square_with_backward(const Tensor& x, const char* name, Derivative derivative) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = mul(x, x);
  }
  return record(name, {x}, y, [saved_x = save(x, name), derivative](const Tensor& g, const std::vector<bool>&) {
    return TensorList{derivative(g, saved_x.get())};
  });
}

}  // namespace

TEST_CASE("gradcheck passes a correct hand-written backward") {
  auto f = [](const TensorList& in) {
    return square_with_backward(in[0], "square", [](const Tensor& g, const Tensor& x) { return g * x * 2.0; });
  };
  GradcheckResult r = gradcheck(f, {f64({3, 2}, 1)});
  CHECK_MESSAGE(r.passed, r.report);
  CHECK(r.max_abs_error < 1e-8);
}

TEST_CASE("gradcheck catches a deliberately wrong backward and says where") {
  // d(x^2)/dx is 2x; this backward forgets the factor 2.
  auto f = [](const TensorList& in) {
    return square_with_backward(in[0], "bad_square", [](const Tensor& g, const Tensor& x) { return g * x; });
  };
  GradcheckResult r = gradcheck(f, {f64({2, 2}, 2)});
  CHECK_FALSE(r.passed);
  CHECK(r.report.find("input 0") != std::string::npos);
  CHECK(r.report.find("element [0, 0]") != std::string::npos);
  CHECK(r.report.find("numerical") != std::string::npos);
  CHECK(r.report.find("analytical") != std::string::npos);
}

TEST_CASE("gradcheck in fast mode also catches a wrong backward") {
  auto f = [](const TensorList& in) {
    return square_with_backward(in[0], "bad_square", [](const Tensor& g, const Tensor& x) { return g * x * 2.1; });
  };
  GradcheckOptions options;
  options.fast_mode = true;
  GradcheckResult r = gradcheck(f, {f64({20, 10}, 3)}, options);
  CHECK_FALSE(r.passed);
  CHECK(r.report.find("fast mode") != std::string::npos);
}

TEST_CASE("gradcheck in fast mode passes a correct function") {
  auto f = [](const TensorList& in) { return tanh(matmul(in[0], in[1])); };
  GradcheckOptions options;
  options.fast_mode = true;
  GradcheckResult r = gradcheck(f, {f64({8, 6}, 4), f64({6, 5}, 5)}, options);
  CHECK_MESSAGE(r.passed, r.report);
}

TEST_CASE("gradcheck catches a wrong gradient for one input among several") {
  // out = a * b, with db deliberately wrong (uses b instead of a).
  auto f = [](const TensorList& in) {
    Tensor y;
    {
      NoGradGuard no_grad;
      y = mul(in[0], in[1]);
    }
    return record("bad_mul", {in[0], in[1]}, y,
                  [sa = save(in[0], "bad_mul"), sb = save(in[1], "bad_mul")](const Tensor& g, const std::vector<bool>&) {
                    return TensorList{g * sb.get(), g * sb.get()};
                  });
  };
  GradcheckResult r = gradcheck(f, {f64({3}, 6), f64({3}, 7)});
  CHECK_FALSE(r.passed);
  CHECK(r.report.find("input 1") != std::string::npos);
}

TEST_CASE("gradcheck catches a backward that is not repeatable") {
  auto calls = std::make_shared<int>(0);
  auto f = [calls](const TensorList& in) {
    return square_with_backward(in[0], "drifting", [calls](const Tensor& g, const Tensor& x) {
      // Correct on the calls the Jacobian check makes, then drifts.
      double drift = ++*calls > 3 ? 1.5 : 1.0;  // 2 calls for the Jacobian, 1 more, then drift
      return g * x * (2.0 * drift);
    });
  };
  GradcheckResult r = gradcheck(f, {f64({2}, 8)});
  CHECK_FALSE(r.passed);
  CHECK(r.report.find("reentrant") != std::string::npos);
}

TEST_CASE("gradcheck catches a backward that ignores a zero upstream gradient") {
  auto f = [](const TensorList& in) {
    return square_with_backward(in[0], "leaky", [](const Tensor& g, const Tensor& x) {
      bool all_zero = sum(abs(g)).item() == 0;
      return all_zero ? ones_like(x) : g * x * 2.0;
    });
  };
  GradcheckResult r = gradcheck(f, {f64({2}, 9)});
  CHECK_FALSE(r.passed);
  CHECK(r.report.find("zero upstream") != std::string::npos);
}

TEST_CASE("gradcheck never perturbs an input without requires_grad") {
  // f records every value its second input takes; a constant input must keep its own.
  Tensor x = f64({3}, 10), c = f64({3}, 11, /*requires_grad=*/false);
  const std::vector<double> c_values = c.to_vector<double>();
  auto seen = std::make_shared<std::vector<std::vector<double>>>();
  auto f = [seen](const TensorList& in) {
    seen->push_back(in[1].to_vector<double>());
    return in[0] * in[1];
  };
  GradcheckResult r = gradcheck(f, {x, c});
  CHECK_MESSAGE(r.passed, r.report);
  REQUIRE(seen->size() > 1);  // the Jacobian check evaluated f at perturbed points
  for (const std::vector<double>& values : *seen) CHECK(values == c_values);
}

TEST_CASE("gradcheck does not check the gradient of an input without requires_grad") {
  // out = a * b with a wrong gradient for b (b instead of a): caught while b is
  // differentiated, ignored while b is held constant (its gradient is never asked for).
  auto f = [](const TensorList& in) {
    Tensor y;
    {
      NoGradGuard no_grad;
      y = mul(in[0], in[1]);
    }
    return record("wrong_for_b", {in[0], in[1]}, y,
                  [sb = save(in[1], "wrong_for_b")](const Tensor& g, const std::vector<bool>&) {
                    return TensorList{g * sb.get(), g * sb.get()};
                  });
  };
  CHECK_FALSE(gradcheck(f, {f64({3}, 16), f64({3}, 17)}).passed);
  GradcheckResult constant_b = gradcheck(f, {f64({3}, 16), f64({3}, 17, /*requires_grad=*/false)});
  CHECK_MESSAGE(constant_b.passed, constant_b.report);
}

TEST_CASE("gradcheck leaves the caller's input values as they were") {
  // The leaves gradcheck perturbs share the caller's storage (detach keeps it): every
  // element must be written back exactly.
  Tensor x = f64({2, 3}, 18);
  const std::vector<double> before = x.to_vector<double>();
  GradcheckResult r = gradcheck([](const TensorList& in) { return tanh(in[0]); }, {x});
  CHECK_MESSAGE(r.passed, r.report);
  CHECK(x.to_vector<double>() == before);
}

TEST_CASE("gradcheck refuses float32 inputs unless asked to convert") {
  auto f = [](const TensorList& in) { return sigmoid(in[0]); };
  Tensor x32 = ones({3}, {DType::Float32, Device::cpu(), true});
  CHECK_THROWS_WITH_AS(gradcheck(f, {x32}), doctest::Contains("float32"), Error);
  GradcheckOptions options;
  options.convert_to_float64 = true;
  GradcheckResult r = gradcheck(f, {x32}, options);
  CHECK_MESSAGE(r.passed, r.report);
}

TEST_CASE("gradcheck refuses inputs with overlapping memory") {
  auto f = [](const TensorList& in) { return in[0] * 2.0; };
  Tensor base = f64({1, 3}, 12, false);
  Tensor expanded = base.expand({4, 3}).detach();
  expanded.requires_grad_(true);
  CHECK_THROWS_WITH_AS(gradcheck(f, {expanded}), doctest::Contains("overlapping memory"), Error);
}

TEST_CASE("gradcheck checks non-contiguous inputs as they are") {
  auto f = [](const TensorList& in) { return matmul(in[0], in[0]); };
  Tensor x = f64({3, 3}, 13, false).t().detach();
  x.requires_grad_(true);
  REQUIRE_FALSE(x.is_contiguous());
  GradcheckResult r = gradcheck(f, {x});
  CHECK_MESSAGE(r.passed, r.report);
}

TEST_CASE("gradcheck refuses a function that computes in float32") {
  auto f = [](const TensorList& in) { return in[0].to(DType::Float32); };
  CHECK_THROWS_WITH_AS(gradcheck(f, {f64({2}, 14)}), doctest::Contains("float64"), Error);
}

TEST_CASE("gradcheck needs at least one input to differentiate") {
  auto f = [](const TensorList& in) { return in[0] * 2.0; };
  CHECK_THROWS_WITH_AS(gradcheck(f, {f64({2}, 15, false)}), doctest::Contains("no input requires grad"), Error);
}
