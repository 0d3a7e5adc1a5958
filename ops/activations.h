#pragma once
// relu, leaky_relu, sigmoid, tanh, softplus. Backward passes: ops/activations.cpp.
#include "core/tensor.h"

namespace sg {

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (as PyTorch).
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);

}  // namespace sg
