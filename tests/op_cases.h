#pragma once
// The table of op cases: one registration per differentiable op case (input shapes,
// value ranges that avoid kinks and poles, gradcheck eps and tolerances). The same
// table drives the gradient checks (tests/test_ops_gradcheck.cpp), the float32 vs
// float64 and contiguous vs non-contiguous forward parity (tests/test_ops_values.cpp),
// and is meant to drive device parity and benchmarks as well.
//
//   const std::vector<OpCase>& op_cases();                  every case, built once
//   std::vector<Tensor> make_inputs(c, dtype, layout, seed)  the inputs of case c
//
// Inputs are drawn from a seeded sg::Generator, so a case sees the same values in
// every dtype and layout. A Layout::NonContiguous input holds the same values as its
// contiguous twin but lives in a transposed view, or in a step-2 slice (offset 1) of
// a bigger buffer whose gaps are NaN, so an op that ignores strides or offsets reads
// garbage and fails loudly.
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/autograd.h"
#include "core/generator.h"
#include "ops/ops.h"

namespace sg_test {

using sg::DType;
using sg::Shape;
using sg::Tensor;

// How one input of a case is made.
struct InputSpec {
  Shape shape;
  double low = -2.0, high = 2.0;  // values are drawn uniformly from [low, high)...
  std::vector<double> avoid = {};  // ...and redrawn while closer than `margin` to one of these
  double margin = 0.05;            // (kinks, poles, clamp bounds, thresholds)
  bool distinct = false;           // every two values at least `margin` apart (max/min: no ties)
  bool requires_grad = true;       // false: held constant by gradcheck
  std::vector<int64_t> labels = {};  // non-empty: a constant int64 tensor of these values
};

struct OpCase {
  std::string name;
  std::vector<InputSpec> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  bool non_contiguous_variant = true;  // also check with non-contiguous inputs
  double eps = 1e-6, atol = 1e-5, rtol = 1e-3;  // gradcheck's defaults unless a case needs others
};

enum class Layout { Contiguous, NonContiguous };

inline const char* layout_name(Layout layout) {
  return layout == Layout::Contiguous ? "contiguous" : "non-contiguous";
}

// ---- input specs: short names for the table -----------------------------------------
inline InputSpec any(Shape shape, double low = -2.0, double high = 2.0) {
  return {std::move(shape), low, high};
}
inline InputSpec positive(Shape shape, double low = 0.2, double high = 3.0) {
  return {std::move(shape), low, high};
}
// Values in [low, high) but at least `margin` away from each point.
inline InputSpec away_from(Shape shape, std::vector<double> points, double low = -2.0, double high = 2.0,
                           double margin = 0.1) {
  InputSpec spec{std::move(shape), low, high, std::move(points), margin};
  return spec;
}
// Pairwise distinct values (at least 0.05 apart): max/min never see a tie.
inline InputSpec distinct(Shape shape) {
  InputSpec spec{std::move(shape), -3.0, 3.0};
  spec.distinct = true;
  return spec;
}
// A float input gradcheck holds constant.
inline InputSpec constant(Shape shape, double low = -2.0, double high = 2.0) {
  InputSpec spec{std::move(shape), low, high};
  spec.requires_grad = false;
  return spec;
}
// An int64 tensor of class indices (never differentiated).
inline InputSpec labels(std::vector<int64_t> values) {
  InputSpec spec{Shape{static_cast<int64_t>(values.size())}};
  spec.requires_grad = false;
  spec.labels = std::move(values);
  return spec;
}

// ---- making inputs --------------------------------------------------------------------
inline std::vector<double> draw_values(const InputSpec& spec, sg::Generator& gen) {
  std::vector<double> values(static_cast<std::size_t>(sg::shape_numel(spec.shape)));
  for (std::size_t i = 0; i < values.size(); ++i) {
    for (int attempt = 0;; ++attempt) {
      if (attempt > 100000)
        throw std::logic_error("op_cases: cannot draw values in [" + std::to_string(spec.low) + ", " +
                               std::to_string(spec.high) + ") that satisfy the spec");
      double v = gen.uniform(spec.low, spec.high);
      bool ok = true;
      for (double p : spec.avoid) ok = ok && std::abs(v - p) >= spec.margin;
      if (spec.distinct)
        for (std::size_t j = 0; j < i; ++j) ok = ok && std::abs(v - values[j]) >= spec.margin;
      if (ok) {
        values[i] = v;
        break;
      }
    }
  }
  return values;
}

// A non-contiguous tensor equal to `dense`: the transpose of a buffer of the swapped
// shape when the last two dims are both > 1, else elements 1, 3, 5... of a buffer twice
// as long along the last dim of size > 1 (the gaps hold NaN). A tensor whose every dim
// has size 1 cannot be non-contiguous: it comes back as a contiguous copy.
inline Tensor non_contiguous_copy(const Tensor& dense) {
  const Shape& shape = dense.shape();
  const int64_t n = dense.dim();
  Tensor view;
  if (n >= 2 && shape[n - 1] > 1 && shape[n - 2] > 1) {
    Shape swapped = shape;
    std::swap(swapped[n - 1], swapped[n - 2]);
    view = sg::empty(swapped, {dense.dtype()}).transpose(-1, -2);
  } else {
    int64_t d = n - 1;
    while (d >= 0 && shape[static_cast<std::size_t>(d)] <= 1) --d;
    if (d < 0) return dense.clone();
    Shape bigger = shape;
    bigger[static_cast<std::size_t>(d)] *= 2;
    view = sg::full(bigger, std::numeric_limits<double>::quiet_NaN(), {dense.dtype()})
               .slice(d, 1, bigger[static_cast<std::size_t>(d)], 2);
  }
  sg::NoGradGuard no_grad;
  view.copy_(dense);
  return view;
}

inline Tensor make_input(const InputSpec& spec, DType dtype, Layout layout, sg::Generator& gen) {
  if (!spec.labels.empty()) return sg::from_vector(spec.labels, spec.shape, {DType::Int64});
  std::vector<double> values = draw_values(spec, gen);
  Tensor t = sg::from_vector(values, spec.shape, {dtype});  // Shape{}: a 0-d scalar
  if (layout == Layout::NonContiguous) t = non_contiguous_copy(t);
  t.requires_grad_(spec.requires_grad);
  return t;
}

// The inputs of `c`: the same values for a given seed in every dtype and layout.
inline std::vector<Tensor> make_inputs(const OpCase& c, DType dtype, Layout layout, uint64_t seed = 20240611) {
  sg::Generator gen(seed);
  std::vector<Tensor> inputs;
  for (const InputSpec& spec : c.inputs) inputs.push_back(make_input(spec, dtype, layout, gen));
  return inputs;
}

inline bool any_non_contiguous(const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs)
    if (!t.is_contiguous()) return true;
  return false;
}

// ---- the table ----------------------------------------------------------------------------
using Inputs = std::vector<Tensor>;

inline std::vector<OpCase> build_op_cases() {
  using sg::Reduction;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<OpCase> cases;
  auto add_case = [&](std::string name, std::vector<InputSpec> inputs,
                      std::function<Tensor(const Inputs&)> fn) -> OpCase& {
    cases.push_back({std::move(name), std::move(inputs), std::move(fn)});
    return cases.back();
  };

  // -- arithmetic, with NumPy broadcasting --------------------------------------------------
  const std::vector<std::pair<Shape, Shape>> broadcast_pairs = {
      {{2, 3}, {2, 3}},    {{2, 3}, {3}},    {{3}, {2, 3}},  {{2, 1, 4}, {3, 1}},
      {{4}, {3, 1}},       {{}, {2, 3}},     {{2, 3}, {}},   {{}, {}},
      {{2, 3, 4}, {1, 4}}, {{5, 1}, {1, 6}},
  };
  struct Binary {
    const char* name;
    Tensor (*op)(const Tensor&, const Tensor&);
    bool nonzero_rhs;  // div: keep the denominator away from its pole at 0
  };
  const Binary binaries[] = {{"add", sg::add, false}, {"sub", sg::sub, false}, {"mul", sg::mul, false},
                             {"div", sg::div, true}};
  for (const Binary& b : binaries) {
    for (const auto& [sa, sb] : broadcast_pairs) {
      InputSpec rhs = b.nonzero_rhs ? away_from(sb, {0.0}, -2.0, 2.0, 0.5) : any(sb);
      auto op = b.op;
      OpCase& c = add_case(std::string(b.name) + " " + sg::shape_str(sa) + " with " + sg::shape_str(sb),
                           {any(sa), rhs}, [op](const Inputs& x) { return op(x[0], x[1]); });
      c.non_contiguous_variant = !(sa.empty() && sb.empty());
    }
  }
  add_case("operator+ - * / on tensors", {any({2, 3}), any({3}), away_from({2, 3}, {0.0}, -2, 2, 0.5)},
           [](const Inputs& x) { return (x[0] + x[1]) * x[0] - x[1] / x[2]; });
  add_case("tensor (op) scalar", {away_from({2, 3}, {0.0}, -2, 2, 0.5)},
           [](const Inputs& x) { return (x[0] + 1.5) * 2.5 - (x[0] - 0.5) / 4.0; });
  add_case("scalar (op) tensor", {away_from({2, 3}, {0.0}, -2, 2, 0.5)},
           [](const Inputs& x) { return (1.5 + x[0]) + (3.0 - x[0]) * (2.0 * x[0]) + 1.0 / x[0]; });
  // One operand held constant: only the other one gets a gradient.
  add_case("sub, only the right operand differentiable", {constant({2, 3}), any({3})},
           [](const Inputs& x) { return sg::sub(x[0], x[1]); });
  add_case("mul by a constant tensor", {any({2, 3}), constant({2, 3})}, [](const Inputs& x) { return x[0] * x[1]; });
  add_case("div, only the denominator differentiable", {constant({2, 3}), away_from({2, 1}, {0.0}, -2, 2, 0.5)},
           [](const Inputs& x) { return x[0] / x[1]; });
  // The same tensor on both sides: the two gradients are summed (x - x: they cancel).
  add_case("x * x", {any({2, 3})}, [](const Inputs& x) { return x[0] * x[0]; });
  add_case("x - x (gradients cancel)", {any({2, 3})}, [](const Inputs& x) { return x[0] - x[0]; });
  add_case("x / x", {away_from({2, 3}, {0.0}, -2, 2, 0.5)}, [](const Inputs& x) { return x[0] / x[0]; });
  add_case("neg [2,3]", {any({2, 3})}, [](const Inputs& x) { return sg::neg(x[0]); });
  add_case("unary minus [4]", {any({4})}, [](const Inputs& x) { return -x[0]; });
  add_case("neg 0-d", {any({})}, [](const Inputs& x) { return sg::neg(x[0]); }).non_contiguous_variant = false;
  add_case("pow 2", {any({2, 3})}, [](const Inputs& x) { return sg::pow(x[0], 2.0); });
  add_case("pow 3", {any({2, 3})}, [](const Inputs& x) { return sg::pow(x[0], 3.0); });
  add_case("pow 0.5 (positive inputs)", {positive({2, 3})}, [](const Inputs& x) { return x[0].pow(0.5); });
  add_case("pow -1.5 (positive inputs)", {positive({2, 3}, 0.5, 3.0)},
           [](const Inputs& x) { return sg::pow(x[0], -1.5); });
  add_case("pow 1", {any({3, 2})}, [](const Inputs& x) { return sg::pow(x[0], 1.0); });
  add_case("pow 0 (constant one)", {any({3})}, [](const Inputs& x) { return sg::pow(x[0], 0.0); });

  // -- pointwise math ------------------------------------------------------------------------
  add_case("exp", {any({2, 3})}, [](const Inputs& x) { return sg::exp(x[0]); });
  add_case("exp 0-d", {any({})}, [](const Inputs& x) { return x[0].exp(); }).non_contiguous_variant = false;
  add_case("log (positive inputs)", {positive({2, 3})}, [](const Inputs& x) { return sg::log(x[0]); });
  add_case("sqrt (positive inputs)", {positive({3, 4})}, [](const Inputs& x) { return sg::sqrt(x[0]); });
  add_case("abs (away from 0)", {away_from({3, 4}, {0.0})}, [](const Inputs& x) { return sg::abs(x[0]); });
  add_case("clamp [-0.5, 0.5] (away from the bounds)", {away_from({3, 4}, {-0.5, 0.5}, -1.5, 1.5)},
           [](const Inputs& x) { return sg::clamp(x[0], -0.5, 0.5); });
  add_case("clamp [-inf, 0.3]", {away_from({3, 4}, {0.3})}, [inf](const Inputs& x) { return sg::clamp(x[0], -inf, 0.3); });
  add_case("clamp [-0.2, +inf]", {away_from({3, 4}, {-0.2})},
           [inf](const Inputs& x) { return sg::clamp(x[0], -0.2, inf); });

  // -- activations -----------------------------------------------------------------------------
  add_case("relu (away from 0)", {away_from({3, 4}, {0.0})}, [](const Inputs& x) { return sg::relu(x[0]); });
  add_case("relu method", {away_from({5}, {0.0})}, [](const Inputs& x) { return x[0].relu(); });
  add_case("leaky_relu default slope", {away_from({3, 4}, {0.0})},
           [](const Inputs& x) { return sg::leaky_relu(x[0]); });
  add_case("leaky_relu slope 0.2", {away_from({3, 4}, {0.0})},
           [](const Inputs& x) { return sg::leaky_relu(x[0], 0.2); });
  add_case("sigmoid", {any({3, 4}, -4.0, 4.0)}, [](const Inputs& x) { return sg::sigmoid(x[0]); });
  add_case("sigmoid large |x|", {away_from({6}, {0.0}, -30.0, 30.0, 10.0)},
           [](const Inputs& x) { return x[0].sigmoid(); });
  add_case("tanh", {any({3, 4}, -3.0, 3.0)}, [](const Inputs& x) { return sg::tanh(x[0]); });
  add_case("softplus", {any({3, 4}, -3.0, 3.0)}, [](const Inputs& x) { return sg::softplus(x[0]); });
  add_case("softplus beta 2", {any({3, 4}, -3.0, 3.0)}, [](const Inputs& x) { return sg::softplus(x[0], 2.0); });
  add_case("softplus linear region (x > threshold 20)", {any({2, 3}, 20.5, 25.0)},
           [](const Inputs& x) { return sg::softplus(x[0]); });
  // beta 2, threshold 3: linear where 2x > 3, so the kink at x = 1.5 is avoided.
  add_case("softplus beta 2 threshold 3, both regions", {away_from({3, 4}, {1.5}, -3.0, 3.0)},
           [](const Inputs& x) { return sg::softplus(x[0], 2.0, 3.0); });

  // -- matmul ------------------------------------------------------------------------------------
  // (The non-contiguous variant hands every operand over as a transposed view.)
  auto mm = [](const Inputs& x) { return sg::matmul(x[0], x[1]); };
  add_case("matmul [3,4] @ [4,5]", {any({3, 4}), any({4, 5})}, mm);
  add_case("matmul batched [2,3,4] @ [2,4,5]", {any({2, 3, 4}), any({2, 4, 5})}, mm);
  add_case("matmul [2,3,4] @ [4,5] (2-D broadcast over the batch)", {any({2, 3, 4}), any({4, 5})}, mm);
  add_case("matmul [3,4] @ [2,4,5] (2-D broadcast over the batch)", {any({3, 4}), any({2, 4, 5})}, mm);
  add_case("matmul outer product [3,1] @ [1,4]", {any({3, 1}), any({1, 4})}, mm);
  add_case("matmul inner product [1,4] @ [4,1]", {any({1, 4}), any({4, 1})}, mm);
  add_case("matmul a.t() @ b", {any({4, 3}), any({4, 5})}, [](const Inputs& x) { return x[0].t().matmul(x[1]); });
  add_case("matmul a @ b.t()", {any({3, 4}), any({5, 4})}, [](const Inputs& x) { return sg::matmul(x[0], x[1].t()); });

  // -- linear (x W^T + b as one op) ---------------------------------------------------------------
  add_case("linear x [4,3], W [5,3], b [5]", {any({4, 3}), any({5, 3}), any({5})},
           [](const Inputs& x) { return sg::linear(x[0], x[1], x[2]); });
  add_case("linear without bias", {any({4, 3}), any({5, 3})}, [](const Inputs& x) { return sg::linear(x[0], x[1]); });
  add_case("linear one sample, one output", {any({1, 3}), any({1, 3}), any({1})},
           [](const Inputs& x) { return sg::linear(x[0], x[1], x[2]); });
  // -- sn_linear (a Linear with a spectrally normalised weight, one op) ----------------------------
  // u, v: fixed unit vectors (constants of the op). The op sees W + 10 u v^T, so that
  // sigma = u . (W' v) = u . (W v) + 10 stays positive whatever W's values in [-2, 2).
  auto sn_lin = [](double scale, sg::SNBackward mode, bool with_bias) {
    return [=](const Inputs& x) {
      const Tensor& w = x[1];
      Tensor u, v, shifted, sigma;
      {
        sg::NoGradGuard no_grad;
        sg::Generator gen(31);
        u = sg::randn({w.shape()[0]}, gen, {w.dtype()});
        v = sg::randn({w.shape()[1]}, gen, {w.dtype()});
        u = u / sg::sqrt(sg::sum(u * u));
        v = v / sg::sqrt(sg::sum(v * v));
        shifted = sg::matmul(u.unsqueeze(1), v.unsqueeze(0)) * 10.0;
        sigma = sg::full({}, 9.0, {w.dtype()});
      }
      const std::vector<sg::SigmaTerm> terms{{0, u, v, 1.0}};
      // detach_sigma differentiates W scale / sigma with sigma held: the case holds it at 9.
      const Tensor* known = mode == sg::SNBackward::DetachSigma ? &sigma : nullptr;
      return sg::sn_linear(x[0], w + shifted, with_bias ? x[2] : Tensor(), terms, scale, mode, known);
    };
  };
  add_case("sn_linear x [4,3], W [5,3], b [5] (through sigma)", {any({4, 3}), any({5, 3}), any({5})},
           sn_lin(1.0, sg::SNBackward::ThroughSigma, true));
  add_case("sn_linear scale 0.7, without bias (through sigma)", {any({4, 3}), any({5, 3})},
           sn_lin(0.7, sg::SNBackward::ThroughSigma, false));
  add_case("sn_linear one output [2,4] W [1,4] (through sigma)", {any({2, 4}), any({1, 4}), any({1})},
           sn_lin(1.0, sg::SNBackward::ThroughSigma, true));
  add_case("sn_linear detach sigma (held at 9)", {any({4, 3}), any({5, 3}), any({5})},
           sn_lin(1.3, sg::SNBackward::DetachSigma, true));
  add_case("matmul batched a.transpose(1,2) @ b", {any({2, 4, 3}), any({2, 4, 5})},
           [](const Inputs& x) { return sg::matmul(x[0].transpose(1, 2), x[1]); });
  add_case("matmul with a strided operand a[:, ::2]", {any({3, 8}), any({4, 5})},
           [](const Inputs& x) { return sg::matmul(x[0].slice(1, 0, 8, 2), x[1]); });
  add_case("matmul with an expanded (stride-0) operand", {any({3, 4}), any({4, 1})},
           [](const Inputs& x) { return sg::matmul(x[0], x[1].expand({4, 5})); });
  add_case("matmul of a row narrowed from a transpose", {any({4, 3}), any({4, 2})},
           [](const Inputs& x) { return sg::matmul(x[0].t().narrow(0, 1, 1), x[1]); });
  add_case("matmul of a column narrowed from a transpose", {any({4, 3}), any({1, 2})},
           [](const Inputs& x) { return sg::matmul(x[0].t().narrow(1, 2, 1), x[1]); });
  add_case("matmul batched operand with permuted batch dim", {any({3, 2, 4}), any({2, 4, 5})},
           [](const Inputs& x) { return sg::matmul(x[0].permute({1, 0, 2}), x[1]); });
  add_case("matmul, only the right operand differentiable", {constant({3, 4}), any({4, 2})}, mm);
  add_case("matmul, only the left operand differentiable", {any({2, 3, 4}), constant({4, 2})}, mm);
  add_case("matmul chain (a @ b) @ c", {any({2, 3}), any({3, 4}), any({4, 2})},
           [](const Inputs& x) { return sg::matmul(sg::matmul(x[0], x[1]), x[2]); });

  // -- reductions -----------------------------------------------------------------------------------
  add_case("sum all [2,3,4]", {any({2, 3, 4})}, [](const Inputs& x) { return sg::sum(x[0]); });
  add_case("sum 0-d", {any({})}, [](const Inputs& x) { return x[0].sum(); }).non_contiguous_variant = false;
  add_case("sum dim 1 of [2,3,4]", {any({2, 3, 4})}, [](const Inputs& x) { return sg::sum(x[0], {1}); });
  add_case("sum dims {0,2} of [2,3,4]", {any({2, 3, 4})}, [](const Inputs& x) { return sg::sum(x[0], {0, 2}); });
  add_case("sum dims {0,2} keepdim", {any({2, 3, 4})}, [](const Inputs& x) { return sg::sum(x[0], {0, 2}, true); });
  add_case("sum dims {1,2} (adjacent)", {any({2, 3, 4})}, [](const Inputs& x) { return x[0].sum({1, 2}); });
  add_case("sum dim -1 keepdim", {any({3, 4})}, [](const Inputs& x) { return x[0].sum({-1}, true); });
  add_case("sum dim 1 of [2,19] (8-lane loop plus tail)", {any({2, 19})}, [](const Inputs& x) { return x[0].sum({1}); });
  add_case("sum dim 0 of [5,3] (bias-gradient shape)", {any({5, 3})}, [](const Inputs& x) { return x[0].sum({0}); });
  add_case("mean all", {any({3, 4})}, [](const Inputs& x) { return sg::mean(x[0]); });
  add_case("mean dim 0", {any({3, 4})}, [](const Inputs& x) { return sg::mean(x[0], {0}); });
  add_case("mean dims {0,2} keepdim", {any({2, 3, 4})}, [](const Inputs& x) { return x[0].mean({0, 2}, true); });
  add_case("mean dims {-1,-3} (negative dims)", {any({2, 3, 4})}, [](const Inputs& x) { return x[0].mean({-1, -3}); });
  add_case("max dim 1", {distinct({3, 4})}, [](const Inputs& x) { return sg::max(x[0], 1).values; });
  add_case("max dim 0 keepdim", {distinct({3, 4})}, [](const Inputs& x) { return sg::max(x[0], 0, true).values; });
  add_case("max dim -1 of [2,3,4]", {distinct({2, 3, 4})}, [](const Inputs& x) { return sg::max(x[0], -1).values; });
  add_case("max dim 1 of [2,3,4] (middle dim)", {distinct({2, 3, 4})},
           [](const Inputs& x) { return sg::max(x[0], 1).values; });
  add_case("max all", {distinct({3, 4})}, [](const Inputs& x) { return sg::max(x[0]); });
  add_case("max 0-d along dim 0", {any({})}, [](const Inputs& x) { return sg::max(x[0], 0).values; })
      .non_contiguous_variant = false;
  add_case("min dim 1", {distinct({3, 4})}, [](const Inputs& x) { return sg::min(x[0], 1).values; });
  add_case("min dim 0 keepdim of [2,3,4]", {distinct({2, 3, 4})},
           [](const Inputs& x) { return sg::min(x[0], 0, true).values; });
  add_case("min all", {distinct({2, 3, 4})}, [](const Inputs& x) { return sg::min(x[0]); });
  add_case("logsumexp dim 1", {any({3, 4})}, [](const Inputs& x) { return sg::logsumexp(x[0], {1}); });
  add_case("logsumexp dim 0 keepdim", {any({3, 4})}, [](const Inputs& x) { return sg::logsumexp(x[0], {0}, true); });
  add_case("logsumexp dims {0,2}", {any({2, 3, 4})}, [](const Inputs& x) { return sg::logsumexp(x[0], {0, 2}); });
  add_case("logsumexp dims {1,2} keepdim", {any({2, 3, 4})},
           [](const Inputs& x) { return sg::logsumexp(x[0], {1, 2}, true); });
  add_case("logsumexp all dims", {any({3, 4})}, [](const Inputs& x) { return sg::logsumexp(x[0], {}); });
  add_case("logsumexp large inputs", {any({2, 5}, 500.0, 504.0)},
           [](const Inputs& x) { return sg::logsumexp(x[0], {1}); });

  // -- views and shape ops ----------------------------------------------------------------------------
  add_case("reshape [3,4] -> [6,2]", {any({3, 4})}, [](const Inputs& x) { return x[0].reshape({6, 2}); });
  add_case("reshape -> [-1]", {any({2, 3, 2})}, [](const Inputs& x) { return sg::reshape(x[0], {-1}); });
  add_case("reshape 0-d -> [1,1]", {any({})}, [](const Inputs& x) { return x[0].reshape({1, 1}); })
      .non_contiguous_variant = false;
  add_case("view [3,4] -> [2,6]", {any({3, 4})}, [](const Inputs& x) { return x[0].view({2, 6}); })
      .non_contiguous_variant = false;  // view refuses non-contiguous tensors by design
  add_case("view of a contiguous() copy", {any({3, 4})},
           [](const Inputs& x) { return x[0].contiguous().view({4, 3}); });
  add_case("permute {2,0,1}", {any({2, 3, 4})}, [](const Inputs& x) { return x[0].permute({2, 0, 1}); });
  add_case("permute then sum", {any({2, 3, 4})},
           [](const Inputs& x) { return sg::permute(x[0], {1, 2, 0}).sum({0}) * x[0].sum({1}).t(); });
  add_case("transpose(0,1) [3,4]", {any({3, 4})}, [](const Inputs& x) { return x[0].transpose(0, 1); });
  add_case("transpose(0,2) [2,3,4]", {any({2, 3, 4})}, [](const Inputs& x) { return sg::transpose(x[0], 0, 2); });
  add_case("t() then matmul with itself", {any({3, 4})}, [](const Inputs& x) { return x[0].t().matmul(x[0]); });
  add_case("slice dim 1 [0:5:2]", {any({3, 5})}, [](const Inputs& x) { return x[0].slice(1, 0, 5, 2); });
  add_case("slice negative start [-4:-1:2]", {any({3, 6})}, [](const Inputs& x) { return x[0].slice(1, -4, -1, 2); });
  add_case("slice dim 0 [1:100] (end clamps)", {any({4, 3})}, [](const Inputs& x) { return sg::slice(x[0], 0, 1, 100); });
  add_case("slice step 3 of a 1-D tensor", {any({7})}, [](const Inputs& x) { return x[0].slice(0, 1, 7, 3); });
  add_case("narrow(1, 1, 2)", {any({3, 4})}, [](const Inputs& x) { return x[0].narrow(1, 1, 2); });
  add_case("select(0, 1)", {any({2, 3, 4})}, [](const Inputs& x) { return x[0].select(0, 1); });
  add_case("select(1, -1)", {any({2, 3, 4})}, [](const Inputs& x) { return x[0].select(1, -1); });
  add_case("squeeze(1) [3,1,4]", {any({3, 1, 4})}, [](const Inputs& x) { return x[0].squeeze(1); });
  add_case("squeeze() [1,3,1]", {any({1, 3, 1})}, [](const Inputs& x) { return x[0].squeeze(); });
  add_case("unsqueeze(0)", {any({3, 4})}, [](const Inputs& x) { return x[0].unsqueeze(0); });
  add_case("unsqueeze(-1)", {any({3, 4})}, [](const Inputs& x) { return x[0].unsqueeze(-1); });
  add_case("unsqueeze(1) then expand", {any({3, 4})}, [](const Inputs& x) { return x[0].unsqueeze(1).expand({3, 2, 4}); });
  add_case("expand [3,1] -> [3,4]", {any({3, 1})}, [](const Inputs& x) { return x[0].expand({3, 4}); });
  add_case("expand [4] -> [2,3,4]", {any({4})}, [](const Inputs& x) { return sg::expand(x[0], {2, 3, 4}); });
  add_case("expand [3,1] -> [2,-1,5]", {any({3, 1})}, [](const Inputs& x) { return x[0].expand({2, -1, 5}); });
  add_case("expand 0-d -> [2,3]", {any({})}, [](const Inputs& x) { return x[0].expand({2, 3}); })
      .non_contiguous_variant = false;
  add_case("flatten()", {any({2, 3, 4})}, [](const Inputs& x) { return x[0].flatten(); });
  add_case("flatten(1)", {any({2, 3, 4})}, [](const Inputs& x) { return sg::flatten(x[0], 1); });
  add_case("flatten(0, 1)", {any({2, 3, 4})}, [](const Inputs& x) { return x[0].flatten(0, 1); });
  add_case("cat 3 inputs dim 0", {any({2, 3}), any({1, 3}), any({3, 3})},
           [](const Inputs& x) { return sg::cat({x[0], x[1], x[2]}, 0); });
  add_case("cat 2 inputs dim 1", {any({2, 2}), any({2, 3})}, [](const Inputs& x) { return sg::cat({x[0], x[1]}, 1); });
  add_case("cat dim -1 of 3-D", {any({2, 3, 2}), any({2, 3, 1})}, [](const Inputs& x) { return sg::cat({x[0], x[1]}, -1); });
  add_case("cat with a constant input", {any({2, 3}), constant({2, 3})},
           [](const Inputs& x) { return sg::cat({x[0], x[1]}, 0); });
  add_case("cat the same tensor twice", {any({2, 3})}, [](const Inputs& x) { return sg::cat({x[0], x[0]}, 1); });
  add_case("stack 2 inputs dim 0", {any({2, 3}), any({2, 3})}, [](const Inputs& x) { return sg::stack({x[0], x[1]}, 0); });
  add_case("stack 3 inputs dim 1", {any({2, 3}), any({2, 3}), any({2, 3})},
           [](const Inputs& x) { return sg::stack({x[0], x[1], x[2]}, 1); });
  add_case("stack dim -1", {any({3}), any({3})}, [](const Inputs& x) { return sg::stack({x[0], x[1]}, -1); });
  add_case("clone", {any({3, 4})}, [](const Inputs& x) { return x[0].clone(); });
  add_case("clone then mul", {any({3, 4})}, [](const Inputs& x) { return x[0].clone() * x[0]; });
  add_case("contiguous", {any({3, 4})}, [](const Inputs& x) { return x[0].contiguous(); });
  add_case("contiguous of a transpose", {any({3, 4})}, [](const Inputs& x) { return x[0].t().contiguous(); });
  // float32 keeps ~7 digits: a wide eps keeps the rounding out of the central difference
  // (the function is linear, so a wide eps costs nothing).
  OpCase& to32 = add_case("to(float32).to(float64) round trip", {any({3, 4})},
                          [](const Inputs& x) { return x[0].to(DType::Float32).to(DType::Float64); });
  to32.eps = 1e-2;
  OpCase& to32mul = add_case("to(float32), mul in float32, back to float64", {any({3, 4})},
                             [](const Inputs& x) { return (x[0].to(DType::Float32) * 3.0).to(DType::Float64); });
  to32mul.eps = 1e-2;
  add_case("to(float64) on float64 is the identity", {any({3, 4})}, [](const Inputs& x) { return x[0].to(DType::Float64); });

  // -- losses ---------------------------------------------------------------------------------------------
  const std::pair<const char*, Reduction> reductions[] = {
      {"mean", Reduction::Mean}, {"sum", Reduction::Sum}, {"none", Reduction::None}};
  for (const auto& [rname, r] : reductions) {
    std::string suffix = std::string(" (") + rname + ")";
    Reduction red = r;
    add_case("mse_loss" + suffix, {any({3, 4}), any({3, 4})},
             [red](const Inputs& x) { return sg::mse_loss(x[0], x[1], red); });
    add_case("binary_cross_entropy_with_logits" + suffix + ", grad w.r.t. logits and targets",
             {any({3, 4}, -3.0, 3.0), any({3, 4}, 0.0, 1.0)},
             [red](const Inputs& x) { return sg::binary_cross_entropy_with_logits(x[0], x[1], red); });
    add_case("nll_loss" + suffix, {any({4, 3}, -3.0, 0.0), labels({0, 2, 1, 2})},
             [red](const Inputs& x) { return sg::nll_loss(x[0], x[1], red); });
    add_case("cross_entropy" + suffix, {any({4, 3}), labels({1, 0, 2, 2})},
             [red](const Inputs& x) { return sg::cross_entropy(x[0], x[1], red); });
  }
  add_case("mse_loss with a constant target", {any({5}), constant({5})},
           [](const Inputs& x) { return sg::mse_loss(x[0], x[1]); });
  add_case("binary_cross_entropy_with_logits, logits only (constant targets)", {any({6}, -5.0, 5.0), constant({6}, 0.0, 1.0)},
           [](const Inputs& x) { return sg::binary_cross_entropy_with_logits(x[0], x[1], sg::Reduction::Sum); });
  add_case("binary_cross_entropy_with_logits, targets only (constant logits)", {constant({6}, -5.0, 5.0), any({6}, 0.0, 1.0)},
           [](const Inputs& x) { return sg::binary_cross_entropy_with_logits(x[0], x[1], sg::Reduction::Mean); });
  add_case("binary_cross_entropy_with_logits, large logits", {away_from({2, 3}, {0.0}, -20.0, 20.0, 5.0), any({2, 3}, 0.0, 1.0)},
           [](const Inputs& x) { return sg::binary_cross_entropy_with_logits(x[0], x[1], sg::Reduction::Sum); });
  add_case("log_softmax dim 0", {any({3, 4})}, [](const Inputs& x) { return sg::log_softmax(x[0], 0); });
  add_case("log_softmax dim 1", {any({3, 4})}, [](const Inputs& x) { return sg::log_softmax(x[0], 1); });
  add_case("log_softmax dim -1", {any({3, 4})}, [](const Inputs& x) { return sg::log_softmax(x[0], -1); });
  add_case("log_softmax dim 1 of [2,3,4]", {any({2, 3, 4})}, [](const Inputs& x) { return sg::log_softmax(x[0], 1); });
  add_case("nll_loss of log_softmax", {any({3, 5}), labels({4, 0, 2})},
           [](const Inputs& x) { return sg::nll_loss(sg::log_softmax(x[0], 1), x[1]); });
  add_case("cross_entropy with large logits", {any({3, 4}, -50.0, 50.0), labels({3, 3, 0})},
           [](const Inputs& x) { return sg::cross_entropy(x[0], x[1], sg::Reduction::Sum); });

  // -- compositions: gradients meeting in one leaf from several paths ------------------------------
  add_case("x used twice: x * sigmoid(x)", {any({3, 4})}, [](const Inputs& x) { return x[0] * sg::sigmoid(x[0]); });
  add_case("two-layer perceptron", {any({4, 3}), any({3, 5}), any({5}), any({5, 2})},
           [](const Inputs& x) {
             Tensor h = sg::tanh(sg::matmul(x[0], x[1]) + x[2]);
             return sg::matmul(h, x[3]).sum({1}).mean();
           });
  return cases;
}

inline const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = build_op_cases();
  return cases;
}

}  // namespace sg_test
