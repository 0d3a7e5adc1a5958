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

// ---- the per-input table ----

namespace {

// out = a * b elementwise, with a hand-written backward whose gradient for b is scaled
// by `b_scale` (1 is correct: d out[j] / d b[j] = a[j]).
Tensor mul_with_b_scaled(const Tensor& a, const Tensor& b, double b_scale) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = mul(a, b);
  }
  return record("mul_b_scaled", {a, b}, y,
                [sa = save(a, "mul_b_scaled"), sb = save(b, "mul_b_scaled"), b_scale](const Tensor& g,
                                                                                      const std::vector<bool>&) {
                  return TensorList{g * sb.get(), g * sa.get() * b_scale};
                });
}

Tensor f64_values(const std::vector<double>& values, const Shape& shape) {
  return from_vector(values, shape, {DType::Float64, Device::cpu(), true});
}

// a = [[0.5, -2], [1.5, 0.25]], b = [[1, 2], [3, 4]]: the largest |a| is at [0, 1].
std::vector<Tensor> two_by_two_inputs() {
  return {f64_values({0.5, -2.0, 1.5, 0.25}, {2, 2}), f64_values({1.0, 2.0, 3.0, 4.0}, {2, 2})};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("gradcheck's table gives each input of a correct op a row with verdict exact or close") {
  GradcheckResult r = gradcheck([](const TensorList& in) { return tanh(matmul(in[0], in[1])); },
                                {f64({3, 4}, 20), f64({4, 2}, 21)});
  CHECK_MESSAGE(r.passed, r.report);
  REQUIRE(r.inputs.size() == 2);
  double largest = 0;
  for (std::size_t d = 0; d < 2; ++d) {
    const GradcheckInputRow& row = r.inputs[d];
    CHECK(row.input == d);
    CHECK(row.verdict != GradcheckVerdict::Wrong);
    CHECK(row.compared == (d == 0 ? 12 : 8) * 6);  // every input element against each of the 6 outputs
    CHECK(row.max_abs_diff < 1e-8);
    CHECK(row.max_rel_diff < 1e-6);
    largest = std::max(largest, row.max_abs_diff);
  }
  CHECK(r.inputs[0].shape == Shape{3, 4});
  CHECK(r.inputs[1].shape == Shape{4, 2});
  CHECK(largest == r.max_abs_error);  // the rows split the overall maximum between them
}

TEST_CASE("gradcheck's table marks only the input with the wrong backward as wrong, at its worst element") {
  // The backward scales d out / d b by 1.01. out[j] = a[j] b[j], so the Jacobian block of
  // b is diagonal with d out[j] / d b[j] = a[j]; the central difference of a function
  // linear in b gives n = a[j] (up to rounding, ~1e-10), the backward gives 1.01 a[j].
  // |a - n| = 0.01 |a[j]| fails atol + rtol |n| = 1e-5 + 0.001 |a[j]| for every |a[j]| > 0.0012,
  // and is largest where |a[j]| is: j = [0, 1], a = -2, so analytic -2.02, numeric -2.
  // Off the diagonal both are 0. The gradient for a (g * b) is right.
  GradcheckResult r =
      gradcheck([](const TensorList& in) { return mul_with_b_scaled(in[0], in[1], 1.01); }, two_by_two_inputs());
  CHECK_FALSE(r.passed);
  REQUIRE(r.inputs.size() == 2);
  const GradcheckInputRow& a_row = r.inputs[0];
  const GradcheckInputRow& b_row = r.inputs[1];
  CHECK(a_row.verdict != GradcheckVerdict::Wrong);
  CHECK(a_row.max_abs_diff < 1e-8);
  CHECK(b_row.verdict == GradcheckVerdict::Wrong);
  CHECK(b_row.worst_input_element == Shape{0, 1});
  CHECK(b_row.worst_output_element == Shape{0, 1});
  CHECK(b_row.worst_analytic == doctest::Approx(-2.02).epsilon(1e-12));
  CHECK(b_row.worst_numeric == doctest::Approx(-2.0).epsilon(1e-9));
  CHECK(b_row.max_abs_diff == doctest::Approx(0.02).epsilon(1e-7));  // 0.01 * |-2|
  CHECK(b_row.max_rel_diff == doctest::Approx(0.01).epsilon(1e-7));  // 0.01 |a| / |a| on every diagonal entry
}

TEST_CASE("gradcheck's table passes a backward off by one part in a million as close, not exact") {
  // |a - n| = 1e-6 |a[j]|, between 2.5e-7 and 2e-6: far above rounding (exact_limit =
  // 4 * 2^-52 * max|out| / eps = 4 * 2.2e-16 * 4.5 / 1e-6 = 4e-9), far below atol 1e-5.
  GradcheckResult slightly_off =
      gradcheck([](const TensorList& in) { return mul_with_b_scaled(in[0], in[1], 1 + 1e-6); }, two_by_two_inputs());
  CHECK_MESSAGE(slightly_off.passed, slightly_off.report);
  CHECK(slightly_off.inputs[1].verdict == GradcheckVerdict::Close);
  GradcheckResult right =
      gradcheck([](const TensorList& in) { return mul_with_b_scaled(in[0], in[1], 1.0); }, two_by_two_inputs());
  CHECK(right.inputs[1].verdict == GradcheckVerdict::Exact);
}

TEST_CASE("gradcheck's table text has the columns and each input's verdict") {
  GradcheckResult r =
      gradcheck([](const TensorList& in) { return mul_with_b_scaled(in[0], in[1], 1.01); }, two_by_two_inputs());
  const std::string table = gradcheck_table(r);
  CAPTURE(table);
  for (const char* column : {"input", "shape", "compared", "max |a-n|", "max |a-n|/|n|", "worst entry", "exact if <=",
                             "verdict"})
    CHECK(contains(table, column));
  CHECK(contains(table, "in [0, 1] out [0, 1]"));
  CHECK(contains(table, "-2.02"));
  CHECK(contains(table, "wrong"));
  CHECK(contains(table, verdict_name(r.inputs[0].verdict)));
}

TEST_CASE("gradcheck's failure report ends with the table after the first mismatch") {
  GradcheckResult r =
      gradcheck([](const TensorList& in) { return mul_with_b_scaled(in[0], in[1], 1.01); }, two_by_two_inputs());
  CHECK_FALSE(r.passed);
  CHECK(r.report.rfind("gradcheck: Jacobian mismatch for input 1", 0) == 0);
  CHECK(contains(r.report, gradcheck_table(r)));
}

TEST_CASE("gradcheck's report stays empty when it passes") {
  GradcheckResult r =
      gradcheck([](const TensorList& in) { return mul_with_b_scaled(in[0], in[1], 1.0); }, two_by_two_inputs());
  CHECK(r.passed);
  CHECK(r.report.empty());
  CHECK(r.inputs.size() == 2);
}

TEST_CASE("gradcheck's table in fast mode compares projections per input and names no element") {
  GradcheckOptions options;
  options.fast_mode = true;
  options.fast_mode_projections = 4;
  GradcheckResult r = gradcheck([](const TensorList& in) { return mul_with_b_scaled(in[0], in[1], 1.01); },
                                {f64({6, 5}, 22), f64({6, 5}, 23)}, options);
  CHECK_FALSE(r.passed);
  REQUIRE(r.inputs.size() == 2);
  for (const GradcheckInputRow& row : r.inputs) {
    CHECK(row.projections);
    CHECK(row.compared == 4);
    CHECK(row.worst_input_element.empty());
    CHECK(row.worst_output_element.empty());
    CHECK(row.worst_projection >= 0);
    CHECK(row.worst_projection < 4);
  }
  CHECK(r.inputs[0].verdict != GradcheckVerdict::Wrong);  // a's gradient is right
  CHECK(r.inputs[1].verdict == GradcheckVerdict::Wrong);
  const std::string table = gradcheck_table(r);
  CAPTURE(table);
  CHECK(contains(table, "4 projections"));
  CHECK(contains(table, str("projection ", r.inputs[1].worst_projection)));
  CHECK_FALSE(contains(table, "in ["));
}

TEST_CASE("gradcheck's table shows the names given in options.input_names") {
  GradcheckOptions options;
  options.input_names = {"weight", "bias"};
  GradcheckResult r = gradcheck([](const TensorList& in) { return mul_with_b_scaled(in[0], in[1], 1.0); },
                                two_by_two_inputs(), options);
  REQUIRE(r.inputs.size() == 2);
  CHECK(r.inputs[0].name == "weight");
  CHECK(r.inputs[1].name == "bias");
  CHECK(contains(gradcheck_table(r), "1 (bias)"));
}

TEST_CASE("gradcheck refuses input_names of the wrong length") {
  GradcheckOptions options;
  options.input_names = {"only one"};
  CHECK_THROWS_WITH_AS(gradcheck([](const TensorList& in) { return in[0] * in[1]; }, two_by_two_inputs(), options),
                       doctest::Contains("1 input_names for 2 inputs"), Error);
}

TEST_CASE("gradcheck's table has no row for an input held constant") {
  Tensor constant = f64({2, 2}, 24, /*requires_grad=*/false);
  GradcheckResult r = gradcheck([](const TensorList& in) { return in[0] * in[1]; }, {constant, f64({2, 2}, 25)});
  REQUIRE(r.inputs.size() == 1);
  CHECK(r.inputs[0].input == 1);
}
