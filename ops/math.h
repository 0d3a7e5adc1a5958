#pragma once
// exp, log, sqrt, abs, clamp: pointwise functions. Backward passes: ops/math.cpp.
#include <cmath>
#include "core/tensor.h"

namespace sg {

Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
// Limits each element to [min_value, max_value]; use +-infinity for a one-sided clamp.
Tensor clamp(const Tensor& x, double min_value, double max_value);

}  // namespace sg
