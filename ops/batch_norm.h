#pragma once
// Batch normalisation over (N, C) or (N, C, H, W) inputs, per channel C.
//   training: y = (x - mean_B) / sqrt(var_B + eps) * weight + bias, with the batch's
//             mean and biased variance; running_mean/var are updated in place (no graph):
//             running = (1 - momentum) running + momentum * batch  (unbiased var)
//   eval:     the same with running_mean / running_var.
// weight and bias may be undefined (no affine part). Forward and backward: ops/batch_norm.cpp.
#include "core/tensor.h"

namespace sg {

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace sg
