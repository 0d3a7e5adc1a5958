#include "tools/gradcheck.h"

#include <cmath>
#include <sstream>

#include "ops/ops.h"

namespace sg {

namespace {

// Element `flat` (row-major logical index) of t, located through t's strides.
int64_t storage_index(const Tensor& t, int64_t flat) {
  int64_t at = t.offset();
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    int64_t size = t.shape()[static_cast<std::size_t>(d)];
    at += (flat % size) * t.strides()[static_cast<std::size_t>(d)];
    flat /= size;
  }
  return at;
}

double read_element(const Tensor& t, int64_t flat) {
  double value;
  double* base = static_cast<double*>(t.storage().data()) + storage_index(t, flat);
  if (t.device().is_cpu()) return *base;
  device_interface(t.device().type).copy_to_host(&value, base, sizeof(double), t.device().index);
  return value;
}

// Writes one float64 element without bumping the version: gradcheck restores it.
void write_element(const Tensor& t, int64_t flat, double value) {
  double* base = static_cast<double*>(t.storage().data()) + storage_index(t, flat);
  if (t.device().is_cpu()) *base = value;
  else device_interface(t.device().type).copy_from_host(base, &value, sizeof(double), t.device().index);
}

std::string index_str(const Shape& shape, int64_t flat) {
  Shape index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return list_str(index);
}

bool close(double analytic, double numeric, const GradcheckOptions& o) {
  return std::abs(analytic - numeric) <= o.atol + o.rtol * std::abs(numeric);
}

struct Checker {
  const GradcheckFunction& f;
  GradcheckOptions options;
  std::vector<Tensor> leaves;
  std::vector<std::size_t> differentiable;  // indices into leaves
  GradcheckResult result;
  Generator gen;

  Tensor evaluate() const {
    Tensor y = f(leaves);
    SG_CHECK(y.defined(), "gradcheck: the function returned an undefined tensor");
    SG_CHECK(y.dtype() == DType::Float64, "gradcheck: the function returned a ", dtype_name(y.dtype()),
             " tensor; it must compute in float64 (differences of float32 values are too coarse)");
    return y;
  }

  // Analytic gradients of <v, f(x)> w.r.t. each differentiable input.
  std::vector<Tensor> analytic(const Tensor& y, const Tensor& v) {
    std::vector<Tensor> wrt;
    for (std::size_t i : differentiable) wrt.push_back(leaves[i]);
    if (!y.requires_grad()) {
      std::vector<Tensor> zero;
      for (const Tensor& t : wrt) zero.push_back(zeros_like(t));
      return zero;
    }
    return grad(y, wrt, v, true);
  }

  void fail(const std::string& what) {
    if (result.passed) result.report = what;
    else result.report += "\n" + what;
    result.passed = false;
  }

  void note_error(double analytic_value, double numeric_value) {
    double abs_err = std::abs(analytic_value - numeric_value);
    result.max_abs_error = std::max(result.max_abs_error, abs_err);
    if (numeric_value != 0) result.max_rel_error = std::max(result.max_rel_error, abs_err / std::abs(numeric_value));
  }

  // Numerical d f / d leaves[i][k], as a flat vector over f's elements.
  std::vector<double> numeric_column(std::size_t i, int64_t k) {
    const Tensor& x = leaves[i];
    double original = read_element(x, k);
    NoGradGuard no_grad;
    write_element(x, k, original + options.eps);
    std::vector<double> plus = evaluate().to_vector<double>();
    write_element(x, k, original - options.eps);
    std::vector<double> minus = evaluate().to_vector<double>();
    write_element(x, k, original);
    for (std::size_t j = 0; j < plus.size(); ++j) plus[j] = (plus[j] - minus[j]) / (2 * options.eps);
    return plus;
  }

  void full_jacobian(const Tensor& y) {
    const int64_t m = y.numel();
    // analytic[j][input] = gradient of output element j w.r.t. that input.
    std::vector<std::vector<std::vector<double>>> rows(static_cast<std::size_t>(m));
    for (int64_t j = 0; j < m; ++j) {
      std::vector<double> one_hot(static_cast<std::size_t>(m), 0.0);
      one_hot[static_cast<std::size_t>(j)] = 1.0;
      Tensor v = from_vector(one_hot, y.shape(), {DType::Float64, y.device(), false});
      for (const Tensor& g : analytic(y, v)) rows[static_cast<std::size_t>(j)].push_back(g.to_vector<double>());
    }
    for (std::size_t d = 0; d < differentiable.size(); ++d) {
      std::size_t i = differentiable[d];
      for (int64_t k = 0; k < leaves[i].numel(); ++k) {
        std::vector<double> column = numeric_column(i, k);
        for (int64_t j = 0; j < m; ++j) {
          double a = rows[static_cast<std::size_t>(j)][d][static_cast<std::size_t>(k)];
          double n = column[static_cast<std::size_t>(j)];
          note_error(a, n);
          if (!close(a, n, options)) {
            std::ostringstream msg;
            msg.precision(10);
            msg << "gradcheck: Jacobian mismatch for input " << i << " (shape " << shape_str(leaves[i].shape())
                << ") element " << index_str(leaves[i].shape(), k) << ", output element "
                << index_str(y.shape(), j) << ": numerical " << n << ", analytical " << a << " (|diff| "
                << std::abs(a - n) << " > atol " << options.atol << " + rtol " << options.rtol << " * |numerical|)";
            fail(msg.str());
            return;  // the first mismatch is the useful one
          }
        }
      }
    }
  }

  void projections(const Tensor& y) {
    for (int p = 0; p < options.fast_mode_projections; ++p) {
      Tensor v = randn(y.shape(), gen, {DType::Float64, y.device(), false});
      std::vector<Tensor> u;
      for (std::size_t i : differentiable) u.push_back(randn(leaves[i].shape(), gen, {DType::Float64, y.device(), false}));
      // analytic: sum_i <grad_i(v), u_i>
      double a = 0;
      std::vector<Tensor> grads = analytic(y, v);
      for (std::size_t d = 0; d < grads.size(); ++d) a += sum(mul(grads[d], u[d])).item();
      // numeric: <v, (f(x + eps u) - f(x - eps u)) / (2 eps)>
      auto shifted = [&](double sign) {
        NoGradGuard no_grad;
        std::vector<std::vector<double>> saved;
        for (std::size_t d = 0; d < differentiable.size(); ++d) {
          const Tensor& x = leaves[differentiable[d]];
          std::vector<double> du = u[d].to_vector<double>();
          saved.emplace_back();
          for (int64_t k = 0; k < x.numel(); ++k) {
            double original = read_element(x, k);
            saved.back().push_back(original);
            write_element(x, k, original + sign * options.eps * du[static_cast<std::size_t>(k)]);
          }
        }
        double dot = sum(mul(evaluate(), v)).item();
        for (std::size_t d = 0; d < differentiable.size(); ++d)
          for (int64_t k = 0; k < leaves[differentiable[d]].numel(); ++k)
            write_element(leaves[differentiable[d]], k, saved[d][static_cast<std::size_t>(k)]);
        return dot;
      };
      double n = (shifted(+1) - shifted(-1)) / (2 * options.eps);
      note_error(a, n);
      if (!close(a, n, options)) {
        std::ostringstream msg;
        msg.precision(10);
        msg << "gradcheck (fast mode): projection " << p << " v^T J u differs: numerical " << n << ", analytical "
            << a;
        fail(msg.str());
        return;
      }
    }
  }

  // What a correct backward must also do, beyond the Jacobian's values.
  void backward_properties(const Tensor& y) {
    if (!y.requires_grad()) return;
    Tensor v = randn(y.shape(), gen, {DType::Float64, y.device(), false});
    std::vector<Tensor> first = analytic(y, v), second = analytic(y, v);
    for (std::size_t d = 0; d < first.size(); ++d) {
      std::vector<double> a = first[d].to_vector<double>(), b = second[d].to_vector<double>();
      for (std::size_t k = 0; k < a.size(); ++k)
        if (!close(a[k], b[k], options)) {
          fail(str("gradcheck: backward is not reentrant: input ", differentiable[d], " element ",
                   index_str(leaves[differentiable[d]].shape(), static_cast<int64_t>(k)), " got ", a[k], " then ",
                   b[k], " from the same upstream gradient"));
          return;
        }
    }
    for (std::size_t d = 0; d < first.size(); ++d) {
      if (sum(abs(analytic(y, zeros_like(y))[d])).item() != 0.0)
        return fail(str("gradcheck: a zero upstream gradient gave a non-zero gradient for input ",
                        differentiable[d]));
    }
    // Accumulation through .backward(): pre-filled .grad must grow by exactly `first`.
    std::vector<Tensor> prefill;
    for (std::size_t d = 0; d < differentiable.size(); ++d) {
      prefill.push_back(randn(leaves[differentiable[d]].shape(), gen, {DType::Float64, y.device(), false}));
      leaves[differentiable[d]].set_grad(prefill.back().clone());
    }
    // (An input without requires_grad needs no check here: record() gives it no edge,
    // so no backward can reach it.)
    y.backward(v, true);
    for (std::size_t d = 0; d < differentiable.size(); ++d) {
      Tensor g = leaves[differentiable[d]].grad();
      const Tensor& x = leaves[differentiable[d]];
      if (g.shape() != x.shape() || g.dtype() != x.dtype())
        return fail(str("gradcheck: the gradient of input ", differentiable[d], " has shape ", shape_str(g.shape()),
                        " ", dtype_name(g.dtype()), ", expected ", shape_str(x.shape()), " ", dtype_name(x.dtype())));
      std::vector<double> got = g.to_vector<double>(), base = prefill[d].to_vector<double>(),
                          add_on = first[d].to_vector<double>();
      for (std::size_t k = 0; k < got.size(); ++k)
        if (!close(got[k], base[k] + add_on[k], options))
          return fail(str("gradcheck: backward did not accumulate into an existing .grad for input ",
                          differentiable[d], " (element ", index_str(x.shape(), static_cast<int64_t>(k)),
                          ": expected ", base[k] + add_on[k], ", got ", got[k], ")"));
      leaves[differentiable[d]].zero_grad();
    }
  }
};

}  // namespace

GradcheckResult gradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  Checker checker{f, options, {}, {}, {}, Generator(options.seed)};
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = inputs[i];
    SG_CHECK(input.defined(), "gradcheck: input ", i, " is undefined");
    bool wants_grad = input.requires_grad();
    Tensor leaf = input.detach();  // keeps strides: non-contiguous inputs stay non-contiguous
    if (wants_grad) {
      if (leaf.dtype() == DType::Float32) {
        SG_CHECK(options.convert_to_float64, "gradcheck: input ", i,
                 " is float32; gradients are checked in float64 (pass float64 inputs, or set "
                 "options.convert_to_float64 = true)");
        leaf = leaf.to(DType::Float64);
      }
      for (int64_t d = 0; d < leaf.dim(); ++d)
        SG_CHECK(leaf.strides()[static_cast<std::size_t>(d)] != 0 || leaf.shape()[static_cast<std::size_t>(d)] <= 1,
                 "gradcheck: input ", i, " of shape ", shape_str(leaf.shape()),
                 " has overlapping memory (stride 0 in dim ", d,
                 ", e.g. from expand); perturbing one element would move several. Pass .contiguous()");
      leaf.requires_grad_(true);
      checker.differentiable.push_back(i);
    }
    checker.leaves.push_back(leaf);
  }
  SG_CHECK(!checker.differentiable.empty(), "gradcheck: no input requires grad (set requires_grad on the inputs "
                                            "to differentiate)");
  Tensor y = checker.evaluate();
  if (options.fast_mode) checker.projections(y);
  else checker.full_jacobian(y);
  if (checker.result.passed && options.check_backward_properties) checker.backward_properties(y);
  return checker.result;
}

}  // namespace sg
