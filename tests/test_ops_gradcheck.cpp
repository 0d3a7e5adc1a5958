// Gradient checks of every op case in tests/op_cases.h: the analytic Jacobian that
// autograd computes must match central differences in float64, with contiguous
// inputs and with non-contiguous views of the same values, and the backward pass must
// be reentrant, linear in the upstream gradient and accumulate into existing .grad
// (sg::gradcheck checks all of these).
#include <doctest/doctest.h>

#include <exception>
#include <set>
#include <string>

#include "op_cases.h"
#include "tools/gradcheck.h"

using namespace sg_test;

namespace {

sg::GradcheckOptions options_for(const OpCase& c) {
  sg::GradcheckOptions options;
  options.eps = c.eps;
  options.atol = c.atol;
  options.rtol = c.rtol;
  return options;
}

// Runs gradcheck on one case; a failure (or an exception) names the case and layout.
void check_case(const OpCase& c, Layout layout) {
  INFO("op case: \"" << c.name << "\", " << std::string(layout_name(layout)) << " float64 inputs");
  try {
    std::vector<sg::Tensor> inputs = make_inputs(c, DType::Float64, layout);
    if (layout == Layout::NonContiguous)
      REQUIRE_MESSAGE(any_non_contiguous(inputs),
                      "the case claims a non-contiguous variant but none of its inputs can be made non-contiguous");
    sg::GradcheckResult result = sg::gradcheck(c.fn, inputs, options_for(c));
    CHECK_MESSAGE(result.passed, result.report);
  } catch (const std::exception& e) {
    FAIL_CHECK("threw: " << std::string(e.what()));
  }
}

}  // namespace

TEST_CASE("the op case table is non-empty and every case has a unique name") {
  const auto& cases = op_cases();
  CHECK(cases.size() > 100);
  std::set<std::string> names;
  for (const OpCase& c : cases) {
    INFO("duplicate case name: " << c.name);
    CHECK(names.insert(c.name).second);
  }
}

TEST_CASE("gradcheck passes for every op case with contiguous float64 inputs") {
  for (const OpCase& c : op_cases()) check_case(c, Layout::Contiguous);
}

TEST_CASE("gradcheck passes for every op case with non-contiguous float64 inputs") {
  for (const OpCase& c : op_cases())
    if (c.non_contiguous_variant) check_case(c, Layout::NonContiguous);
}

TEST_CASE("gradcheck passes for every op case with a second set of input values") {
  // Another seed: a bug that hides behind one draw of values rarely hides behind two.
  for (const OpCase& c : op_cases()) {
    INFO("op case: \"" << c.name << "\", contiguous float64 inputs, seed 7");
    try {
      sg::GradcheckResult result = sg::gradcheck(c.fn, make_inputs(c, DType::Float64, Layout::Contiguous, 7),
                                                 options_for(c));
      CHECK_MESSAGE(result.passed, result.report);
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << std::string(e.what()));
    }
  }
}

TEST_CASE("gradcheck passes when the gradient reaching each op is non-contiguous") {
  // f(x).permute(reversed dims): the permute's backward hands f's backward a permuted
  // (non-contiguous) upstream gradient, which every backward must read through its strides.
  int wrapped = 0;
  for (const OpCase& c : op_cases()) {
    INFO("op case: \"" << c.name << "\", output permuted");
    try {
      std::vector<sg::Tensor> inputs = make_inputs(c, DType::Float64, Layout::Contiguous);
      sg::Shape out_shape;
      {
        sg::NoGradGuard no_grad;
        out_shape = c.fn(inputs).shape();
      }
      int big_dims = 0;
      for (int64_t s : out_shape) big_dims += s > 1;
      if (big_dims < 2) continue;  // every permutation of it would be contiguous
      sg::Shape reversed;
      for (int64_t d = static_cast<int64_t>(out_shape.size()) - 1; d >= 0; --d) reversed.push_back(d);
      auto fn = c.fn;
      auto permuted = [fn, reversed](const Inputs& x) { return fn(x).permute(reversed); };
      ++wrapped;
      sg::GradcheckResult result = sg::gradcheck(permuted, inputs, options_for(c));
      CHECK_MESSAGE(result.passed, result.report);
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << std::string(e.what()));
    }
  }
  CHECK(wrapped > 50);
}

TEST_CASE("gradcheck in fast mode (random projections) passes for big inputs") {
  sg::GradcheckOptions fast;
  fast.fast_mode = true;
  fast.fast_mode_projections = 4;

  OpCase big_matmul{"matmul [48,64] @ [64,40]", {any({48, 64}), any({64, 40})},
                    [](const Inputs& x) { return sg::matmul(x[0], x[1]); }};
  OpCase big_batched{"batched matmul [4,16,24] @ [24,20] (transposed views)",
                     {any({4, 16, 24}), any({24, 20})}, [](const Inputs& x) { return sg::matmul(x[0], x[1]); }};
  OpCase big_softmax{"log_softmax [64,100] dim 1", {any({64, 100}, -5.0, 5.0)},
                     [](const Inputs& x) { return sg::log_softmax(x[0], 1); }};
  std::vector<int64_t> targets(128);
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<int64_t>((i * 7) % 10);
  OpCase big_ce{"cross_entropy [128,10]", {any({128, 10}, -4.0, 4.0), labels(targets)},
                [](const Inputs& x) { return sg::cross_entropy(x[0], x[1]); }};
  OpCase big_mlp{"tanh(x @ w + b).sum over [64,32] @ [32,48]", {any({64, 32}), any({32, 48}, -0.3, 0.3), any({48})},
                 [](const Inputs& x) { return sg::tanh(sg::matmul(x[0], x[1]) + x[2]).sum(); }};

  for (const OpCase* c : {&big_matmul, &big_batched, &big_softmax, &big_ce, &big_mlp}) {
    for (Layout layout : {Layout::Contiguous, Layout::NonContiguous}) {
      INFO("fast-mode case: \"" << c->name << "\", " << std::string(layout_name(layout)) << " inputs");
      std::vector<sg::Tensor> inputs = make_inputs(*c, DType::Float64, layout);
      sg::GradcheckResult result = sg::gradcheck(c->fn, inputs, fast);
      CHECK_MESSAGE(result.passed, result.report);
    }
  }
}
