#pragma once
// 2-D convolution and transposed convolution (dilation 1, groups 1), as im2col +
// one BLAS GEMM per call for the whole batch. Forward and backward: ops/conv.cpp.
#include "core/tensor.h"

namespace sg {

// x: (N, C, H, W), weight: (O, C, kh, kw), bias: (O) or undefined
// -> (N, O, (H + 2p - kh)/s + 1, (W + 2p - kw)/s + 1)
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride = 1, int64_t padding = 0);

// The adjoint of conv2d in x (also called "deconvolution").
// x: (N, Cin, H, W), weight: (Cin, Cout, kh, kw), bias: (Cout) or undefined
// -> (N, Cout, (H - 1)s - 2p + kh, (W - 1)s - 2p + kw)
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride = 1,
                        int64_t padding = 0);

}  // namespace sg
