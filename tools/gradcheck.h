#pragma once
// gradcheck: is the analytic gradient of a user function of tensors right?
//
// It compares the Jacobian that autograd computes (one backward pass per output
// element, with a one-hot upstream gradient) against central differences
//     (f(x + eps e_k) - f(x - eps e_k)) / (2 eps)
// in float64, entry by entry: an entry passes when
//     |analytic - numeric| <= atol + rtol * |numeric|.
// With fast_mode it compares random projections v^T J u instead (for big inputs).
// It also checks what a correct backward must do beyond values: the same result when
// run twice, zero input gradients for a zero upstream gradient, gradients of the
// input's shape and dtype, and accumulation into an existing .grad by exactly the new
// gradient.
//
// Inputs with requires_grad set are differentiated; the others are held constant:
// never perturbed, and given no edge in the graph, so no gradient can reach them.
//
// Besides pass/fail, the result has one row per differentiated input: how far its
// analytic gradient is from the numerical one, where the worst entry is, and a verdict
// in words (GradcheckVerdict). gradcheck_table() prints the rows as a text table, and a
// failed result's report ends with that table.
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sg {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  bool convert_to_float64 = false;  // else float32 inputs are refused with an error
  bool fast_mode = false;           // random projections v^T J u instead of the full Jacobian
  int fast_mode_projections = 3;
  bool check_backward_properties = true;  // twice, zero upstream, accumulation (shape, dtype, values)
  uint64_t seed = 0;                       // for the random upstream gradients and projections
  std::vector<std::string> input_names;    // optional, one per input: shown in the table
};

// How one input's analytic gradient compares with the numerical one. A verdict is about
// all the entries compared for that input (Jacobian entries, or projections in fast mode):
//   Exact: every |analytic - numeric| <= exact_limit, the error that rounding the
//          function's values to float64 can put into a central difference
//          (gradcheck_exact_limit below): nothing left to explain.
//   Close: every entry passes |analytic - numeric| <= atol + rtol * |numeric|, but some
//          differ by more than rounding (curvature over eps, a kink, float32 inside f,
//          or a backward that is slightly off).
//   Wrong: some entry fails that test; gradcheck fails.
enum class GradcheckVerdict { Exact, Close, Wrong };
const char* verdict_name(GradcheckVerdict verdict);  // "exact", "close", "wrong"

// One differentiated input's row of the table.
struct GradcheckInputRow {
  std::size_t input = 0;  // its position in gradcheck's inputs
  std::string name;       // from options.input_names; empty if none was given
  Shape shape;
  // What was compared. Full Jacobian: every entry d out[j] / d in[k], `compared` of them.
  // Fast mode: `compared` random projections v^T J_i u_i of this input's block of the
  // Jacobian (input i alone perturbed along u_i), so there is no element to point at.
  bool projections = false;
  int64_t compared = 0;
  double max_abs_diff = 0;  // max |analytic - numeric|
  double max_rel_diff = 0;  // max |analytic - numeric| / |numeric| over entries with numeric != 0
  // The worst entry: the largest |analytic - numeric| among the entries that fail the
  // tolerance, or among all entries if none fails.
  Shape worst_input_element;   // full Jacobian only: the index k into this input
  Shape worst_output_element;  // full Jacobian only: the index j into the output
  int worst_projection = -1;   // fast mode only
  double worst_analytic = 0;
  double worst_numeric = 0;
  double exact_limit = 0;  // the bound an Exact verdict needs
  GradcheckVerdict verdict = GradcheckVerdict::Exact;
};

struct GradcheckResult {
  bool passed = true;
  std::string report;  // what failed (input, element, output element, values), then the table
  double max_abs_error = 0;
  double max_rel_error = 0;
  std::vector<GradcheckInputRow> inputs;  // one row per differentiated input, in input order
  explicit operator bool() const { return passed; }
};

// The rows as an aligned text table with a heading and a legend of the verdicts.
std::string gradcheck_table(const GradcheckResult& result);

// The largest error that rounding alone puts into a central difference with step eps,
// when the values it subtracts have magnitude up to `scale`: each float64 value is off by
// up to 2^-52 relative (a few roundings deep), the difference of two of them by twice
// that, and dividing by 2 eps turns it into
//     exact_limit = kRoundings * 2^-52 * max(1, scale) / eps.
// scale is max |f(x)| for the Jacobian and max over projections of sum_j |v_j f(x)_j| in
// fast mode; the floor of 1 allows for intermediate values of order 1 inside f.
double gradcheck_exact_limit(double scale, double eps);

using GradcheckFunction = std::function<Tensor(const std::vector<Tensor>&)>;

// Throws sg::Error for unusable inputs (float32 without conversion, overlapping
// memory, nothing to differentiate, input_names of the wrong length); returns a failed
// result for wrong gradients.
GradcheckResult gradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace sg
