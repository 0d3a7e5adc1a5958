// Lesson 3 (docs/learn/03-write-an-op.md): a new op with its own node.
//
// hypot(a, b) = sqrt(a^2 + b^2), elementwise, is not in sigmagrad. Its forward is
// written here the way ops/ write theirs (compute without a graph, then record() one
// node); its backward is the exercise. gradcheck compares it with central differences
// and prints one row per input: exact, close or wrong, with the worst element.
//
//   build/examples/learn/03_write_an_op [--show-wrong]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "examples/common/cli.h"
#include "examples/learn/learn.h"
#include "ops/ops.h"
#include "tools/gradcheck.h"

using namespace sg;

namespace {

// The gradients of out = sqrt(a^2 + b^2) for the upstream gradient g, one per input.
TensorList hypot_backward(const Tensor& g, const Tensor& a, const Tensor& b, const Tensor& out) {
  // BEGIN EXERCISE hypot_backward
  // d out / d a = a / sqrt(a^2 + b^2) = a / out, and likewise for b. The chain rule
  // multiplies each by the upstream gradient g, elementwise.
  return TensorList{g * a / out, g * b / out};
  // END EXERCISE
}

// A backward with a typical slip: it forgets to divide by out. For --show-wrong.
TensorList hypot_backward_wrong(const Tensor& g, const Tensor& a, const Tensor& b, const Tensor&) {
  return TensorList{g * a, g * b / (a * a + b * b).sqrt()};
}

using HypotBackward = TensorList (*)(const Tensor&, const Tensor&, const Tensor&, const Tensor&);

// out = sqrt(a^2 + b^2). Like every op: check the inputs, compute the forward without
// recording anything, then record one node whose backward gets the saved tensors.
Tensor hypot(const Tensor& a, const Tensor& b, HypotBackward backward = hypot_backward) {
  SG_CHECK(a.shape() == b.shape(), "hypot: a and b must have the same shape, got ", shape_str(a.shape()), " and ",
           shape_str(b.shape()));
  Tensor out;
  {
    NoGradGuard no_grad;  // the ops inside the forward must not record nodes of their own
    out = (a * a + b * b).sqrt();
  }
  return record("hypot", {a, b}, out,
                [saved_a = save(a, "hypot"), saved_b = save(b, "hypot"), saved_out = save(out, "hypot"),
                 backward](const Tensor& g, const std::vector<bool>&) {
                  return backward(g, saved_a.get(), saved_b.get(), saved_out.get());
                });
}

// Says, per input, what the table says, in a sentence.
void explain_rows(learn::SelfCheck& check, const GradcheckResult& result) {
  for (const GradcheckInputRow& row : result.inputs) {
    char values[200];
    std::snprintf(values, sizeof values, "worst element: yours %.6g, numerical %.6g", row.worst_analytic,
                  row.worst_numeric);
    check.expect(row.verdict != GradcheckVerdict::Wrong,
                 "the gradient for " + row.name + " is " + verdict_name(row.verdict),
                 std::string(values) + "; d out / d " + row.name + " is " + row.name +
                     " / out (see the derivation in docs/learn/03-write-an-op.md)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Lesson 3: write the backward of a new op; gradcheck says whether it is right"};
  bool show_wrong = false;
  app.add_flag("--show-wrong", show_wrong, "also gradcheck a deliberately wrong backward, to see a failing table");
  CLI11_PARSE(app, argc, argv);

  return examples::run_main("03_write_an_op", [&] {
    learn::SelfCheck check(3);
    Generator gen(3);
    // Inputs away from a = b = 0, where hypot has a kink and no derivative.
    TensorOptions differentiated{DType::Float64, Device::cpu(), true};
    Tensor a = uniform({2, 3}, 0.5, 2.0, gen, differentiated);
    Tensor b = uniform({2, 3}, -2.0, -0.5, gen, differentiated);
    GradcheckOptions options;
    options.input_names = {"a", "b"};

    check.part("1. The forward: hypot(3, 4) = 5.", [&] {
      const double five = hypot(scalar_tensor(3.0, {DType::Float64}), scalar_tensor(4.0, {DType::Float64})).item();
      char line[64];
      std::snprintf(line, sizeof line, "hypot(3, 4) = %g", five);
      check.expect(five == 5.0, line, "the forward is given: is sqrt(a * a + b * b) still there?");
    });

    check.part("2. Your backward (the exercise) under gradcheck: one row per input.", [&] {
      GradcheckResult result = gradcheck([](const TensorList& in) { return hypot(in[0], in[1]); }, {a, b}, options);
      std::cout << gradcheck_table(result) << "\n";
      explain_rows(check, result);
      // The report is the first mismatch, then the table printed above: its first line is enough.
      check.expect(result.passed, "gradcheck passes (also: backward twice, zero in gives zero out, accumulation)",
                   result.report.substr(0, result.report.find('\n')));
    });

    check.part("3. With b held constant (requires_grad off), only a is differentiated.", [&] {
      Tensor b_constant = b.detach();
      GradcheckOptions one_input = options;
      GradcheckResult result =
          gradcheck([](const TensorList& in) { return hypot(in[0], in[1]); }, {a, b_constant}, one_input);
      check.expect(result.passed && result.inputs.size() == 1, "gradcheck passes with one row, for a",
                   result.report);
    });

    if (show_wrong) {
      std::printf("\n(--show-wrong) A backward that forgets to divide by out, for comparison:\n");
      GradcheckResult wrong = gradcheck(
          [](const TensorList& in) { return hypot(in[0], in[1], hypot_backward_wrong); }, {a, b}, options);
      std::cout << wrong.report << "\n";
    }
    return check.finish();
  });
}
