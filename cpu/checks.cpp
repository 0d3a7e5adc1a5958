// Checks on values the ops compute (kernels/kernels.h): on the CPU the value is here, so
// the check is immediate. (cuda/checks.cu defers it to the next wait for the device.)
#include <cmath>

#include "cpu/backend.h"
#include "kernels/dtype_dispatch.h"

namespace sg::cpu {

double host_scalar(const Tensor& value) {
  SG_CHECK(value.numel() == 1, "host_scalar: expected one value, got shape ", shape_str(value.shape()));
  double v = 0;
  dispatch_floating(value.dtype(), "host_scalar", [&](auto zero) {
    using T = decltype(zero);
    v = static_cast<double>(value.data<T>()[0]);
  });
  return v;
}

void require_positive_finite(const Tensor& value, const CheckedValue& what) {
  SG_CHECK(value.numel() == 1, what.str(), ": expected one value, got shape ", shape_str(value.shape()));
  const double v = host_scalar(value);
  SG_CHECK(std::isfinite(v) && v > 0, what.str(), " is ", v, " (expected a positive finite value)");
}

}  // namespace sg::cpu
