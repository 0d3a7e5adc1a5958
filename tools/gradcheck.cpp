#include "tools/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

// The multi-index of element `flat` (row-major) of a tensor of this shape.
Shape multi_index(const Shape& shape, int64_t flat) {
  Shape index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

std::string index_str(const Shape& shape, int64_t flat) { return list_str(multi_index(shape, flat)); }

double max_magnitude(const std::vector<double>& values) {
  double largest = 0;
  for (double value : values) largest = std::max(largest, std::abs(value));
  return largest;
}

// sum_j |v_j y_j|: how big the terms of the dot product <v, y> are, which is what its
// rounding error grows with.
double dot_magnitude(const std::vector<double>& v, const std::vector<double>& y) {
  double total = 0;
  for (std::size_t j = 0; j < v.size(); ++j) total += std::abs(v[j] * y[j]);
  return total;
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

  // One empty row per differentiated input, filled in by the comparisons.
  void start_rows() {
    for (std::size_t i : differentiable) {
      GradcheckInputRow row;
      row.input = i;
      if (!options.input_names.empty()) row.name = options.input_names[i];
      row.shape = leaves[i].shape();
      row.projections = options.fast_mode;
      result.inputs.push_back(row);
    }
  }

  // Folds one compared pair into its row. Returns true when it is the row's new worst
  // entry: a failing entry outranks every passing one, then the larger |difference| wins.
  bool note_entry(GradcheckInputRow& row, double analytic_value, double numeric_value) const {
    const double diff = std::abs(analytic_value - numeric_value);
    const bool fails = !close(analytic_value, numeric_value, options);
    const bool row_fails = row.verdict == GradcheckVerdict::Wrong;
    const double worst_diff = std::abs(row.worst_analytic - row.worst_numeric);
    const bool worse = row.compared == 0 || (fails && !row_fails) || (fails == row_fails && diff > worst_diff);
    row.max_abs_diff = std::max(row.max_abs_diff, diff);
    if (numeric_value != 0) row.max_rel_diff = std::max(row.max_rel_diff, diff / std::abs(numeric_value));
    ++row.compared;
    if (worse) {
      row.worst_analytic = analytic_value;
      row.worst_numeric = numeric_value;
    }
    if (fails) row.verdict = GradcheckVerdict::Wrong;
    return worse;
  }

  // A row without a failing entry is exact or close, by its largest difference.
  static void settle_verdict(GradcheckInputRow& row) {
    if (row.verdict == GradcheckVerdict::Wrong) return;
    row.verdict = row.max_abs_diff <= row.exact_limit ? GradcheckVerdict::Exact : GradcheckVerdict::Close;
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

  std::string jacobian_mismatch(std::size_t i, int64_t k, const Tensor& y, int64_t j, double a, double n) const {
    std::ostringstream msg;
    msg.precision(10);
    msg << "gradcheck: Jacobian mismatch for input " << i << " (shape " << shape_str(leaves[i].shape())
        << ") element " << index_str(leaves[i].shape(), k) << ", output element " << index_str(y.shape(), j)
        << ": numerical " << n << ", analytical " << a << " (|diff| " << std::abs(a - n) << " > atol "
        << options.atol << " + rtol " << options.rtol << " * |numerical|)";
    return msg.str();
  }

  // Compares every entry, so that each input's row is complete; the report names the
  // first mismatch, the useful one to start from.
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
    const double exact_limit = gradcheck_exact_limit(max_magnitude(y.to_vector<double>()), options.eps);
    std::string first_mismatch;
    for (std::size_t d = 0; d < differentiable.size(); ++d) {
      std::size_t i = differentiable[d];
      GradcheckInputRow& row = result.inputs[d];
      row.exact_limit = exact_limit;
      for (int64_t k = 0; k < leaves[i].numel(); ++k) {
        std::vector<double> column = numeric_column(i, k);
        for (int64_t j = 0; j < m; ++j) {
          double a = rows[static_cast<std::size_t>(j)][d][static_cast<std::size_t>(k)];
          double n = column[static_cast<std::size_t>(j)];
          note_error(a, n);
          if (note_entry(row, a, n)) {
            row.worst_input_element = multi_index(leaves[i].shape(), k);
            row.worst_output_element = multi_index(y.shape(), j);
          }
          if (!close(a, n, options) && first_mismatch.empty()) first_mismatch = jacobian_mismatch(i, k, y, j, a, n);
        }
      }
      settle_verdict(row);
    }
    if (!first_mismatch.empty()) fail(first_mismatch);
  }

  // <v, f(x + sign * eps * u)>, with only the inputs listed in `shifted` (positions in
  // `differentiable`) moved along their u; every element is restored afterwards.
  double projected_output(const Tensor& v, const std::vector<Tensor>& u, const std::vector<std::size_t>& shifted,
                          double sign) {
    NoGradGuard no_grad;
    std::vector<std::vector<double>> saved;
    for (std::size_t d : shifted) {
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
    for (std::size_t s = 0; s < shifted.size(); ++s) {
      const Tensor& x = leaves[differentiable[shifted[s]]];
      for (int64_t k = 0; k < x.numel(); ++k) write_element(x, k, saved[s][static_cast<std::size_t>(k)]);
    }
    return dot;
  }

  // The central difference of <v, f> along u for the listed inputs: numerical v^T J u.
  double numeric_projection(const Tensor& v, const std::vector<Tensor>& u, const std::vector<std::size_t>& shifted) {
    return (projected_output(v, u, shifted, +1) - projected_output(v, u, shifted, -1)) / (2 * options.eps);
  }

  // Pass/fail comes from v^T J u with every input moved at once. The table's rows split
  // it: input i alone moved along u_i gives v^T J_i u_i, which says where an error sits
  // (with a single input that is the same number, so it is not recomputed).
  void projections(const Tensor& y) {
    const std::vector<double> y_values = y.to_vector<double>();
    std::vector<std::size_t> all_inputs(differentiable.size());
    for (std::size_t d = 0; d < all_inputs.size(); ++d) all_inputs[d] = d;
    std::string first_mismatch;
    for (int p = 0; p < options.fast_mode_projections; ++p) {
      Tensor v = randn(y.shape(), gen, {DType::Float64, y.device(), false});
      std::vector<Tensor> u;
      for (std::size_t i : differentiable) u.push_back(randn(leaves[i].shape(), gen, {DType::Float64, y.device(), false}));
      // analytic: sum_i <grad_i(v), u_i>
      std::vector<double> a_per_input;
      double a = 0;
      std::vector<Tensor> grads = analytic(y, v);
      for (std::size_t d = 0; d < grads.size(); ++d) {
        a_per_input.push_back(sum(mul(grads[d], u[d])).item());
        a += a_per_input.back();
      }
      // numeric: <v, (f(x + eps u) - f(x - eps u)) / (2 eps)>
      double n = numeric_projection(v, u, all_inputs);
      note_error(a, n);
      if (!close(a, n, options) && first_mismatch.empty()) {
        std::ostringstream msg;
        msg.precision(10);
        msg << "gradcheck (fast mode): projection " << p << " v^T J u differs: numerical " << n << ", analytical "
            << a;
        first_mismatch = msg.str();
      }
      const double exact_limit = gradcheck_exact_limit(dot_magnitude(v.to_vector<double>(), y_values), options.eps);
      for (std::size_t d = 0; d < differentiable.size(); ++d) {
        GradcheckInputRow& row = result.inputs[d];
        double n_alone = differentiable.size() == 1 ? n : numeric_projection(v, u, {d});
        row.exact_limit = std::max(row.exact_limit, exact_limit);
        if (note_entry(row, a_per_input[d], n_alone)) row.worst_projection = p;
      }
    }
    for (GradcheckInputRow& row : result.inputs) settle_verdict(row);
    if (!first_mismatch.empty()) fail(first_mismatch);
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
  SG_CHECK(options.input_names.empty() || options.input_names.size() == inputs.size(), "gradcheck: ",
           options.input_names.size(), " input_names for ", inputs.size(), " inputs (give one name per input, or none)");
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
  checker.start_rows();
  Tensor y = checker.evaluate();
  if (options.fast_mode) checker.projections(y);
  else checker.full_jacobian(y);
  if (checker.result.passed && options.check_backward_properties) checker.backward_properties(y);
  // Whoever prints a failure sees every input's row, not only the first mismatch.
  if (!checker.result.passed) checker.result.report = str(checker.result.report, "\n", gradcheck_table(checker.result));
  return checker.result;
}

const char* verdict_name(GradcheckVerdict verdict) {
  switch (verdict) {
    case GradcheckVerdict::Exact: return "exact";
    case GradcheckVerdict::Close: return "close";
    case GradcheckVerdict::Wrong: return "wrong";
  }
  return "?";
}

double gradcheck_exact_limit(double scale, double eps) {
  const int kRoundings = 4;  // a few roundings deep: f's last ops each round once
  return kRoundings * std::numeric_limits<double>::epsilon() * std::max(1.0, scale) / eps;
}

namespace {

std::string number(double value, int significant_digits) {
  std::ostringstream out;
  out.precision(significant_digits);
  out << value;
  return out.str();
}

// Where the row's worst entry is: an element pair for the Jacobian, a projection in
// fast mode (which compares no single element).
std::string worst_entry(const GradcheckInputRow& row) {
  if (row.compared == 0) return "-";
  if (row.projections) return str("projection ", row.worst_projection);
  return str("in ", list_str(row.worst_input_element), " out ", list_str(row.worst_output_element));
}

std::vector<std::string> table_cells(const GradcheckInputRow& row) {
  return {row.name.empty() ? std::to_string(row.input) : str(row.input, " (", row.name, ")"),
          shape_str(row.shape),
          str(row.compared, row.projections ? " projections" : " entries"),
          number(row.max_abs_diff, 3),
          number(row.max_rel_diff, 3),
          worst_entry(row),
          number(row.worst_analytic, 10),
          number(row.worst_numeric, 10),
          number(row.exact_limit, 3),
          verdict_name(row.verdict)};
}

// Lines of cells, each column padded to its widest cell, columns two spaces apart.
std::string aligned(const std::vector<std::vector<std::string>>& lines) {
  std::vector<std::size_t> widths;
  for (const auto& cells : lines)
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (widths.size() <= c) widths.push_back(0);
      widths[c] = std::max(widths[c], cells[c].size());
    }
  std::string out;
  for (const auto& cells : lines) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      out += cells[c];
      if (c + 1 < cells.size()) out.append(widths[c] - cells[c].size() + 2, ' ');
    }
    out += '\n';
  }
  return out;
}

}  // namespace

std::string gradcheck_table(const GradcheckResult& result) {
  const bool projections = !result.inputs.empty() && result.inputs.front().projections;
  const std::string heading =
      projections ? "Per differentiated input (fast mode): a = analytic, n = numerical v^T J_i u_i for random "
                    "projections, input i alone moved along u_i; no single element is compared\n"
                  : "Per differentiated input: a = analytic, n = numerical, compared on every Jacobian entry "
                    "d out[j] / d in[k]\n";
  std::vector<std::vector<std::string>> lines = {{"input", "shape", "compared", "max |a-n|", "max |a-n|/|n|",
                                                  "worst entry", "its a", "its n", "exact if <=", "verdict"}};
  for (const GradcheckInputRow& row : result.inputs) lines.push_back(table_cells(row));
  const std::string legend =
      "exact: every |a-n| <= 'exact if <=', what rounding alone can explain; close: every |a-n| <= atol + "
      "rtol * |n|; wrong: some entry is not";
  return str(heading, aligned(lines), legend);
}

}  // namespace sg
