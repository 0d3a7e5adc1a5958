#pragma once
// Dropout: in training, zero each element with probability p and scale the survivors
// by 1/(1-p), so the expected value is unchanged; in eval, the identity.
// Composed from primitives: y = x * mask, so its backward is g * mask.
#include "core/generator.h"
#include "core/tensor.h"

namespace sg {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

}  // namespace sg
