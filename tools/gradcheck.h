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
};

struct GradcheckResult {
  bool passed = true;
  std::string report;  // what failed: input, element, output element, values, errors
  double max_abs_error = 0;
  double max_rel_error = 0;
  explicit operator bool() const { return passed; }
};

using GradcheckFunction = std::function<Tensor(const std::vector<Tensor>&)>;

// Throws sg::Error for unusable inputs (float32 without conversion, overlapping
// memory, nothing to differentiate); returns a failed result for wrong gradients.
GradcheckResult gradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace sg
