#pragma once
// The CPU kernels of conv2d and conv_transpose2d (ops/conv.cpp holds the ops and the
// math). The batch is split into one part per thread and each part goes through its
// images in small groups (enough for a GEMM of several hundred columns): the group's
// columns are built, multiplied while still in cache, and the group's (C, G*H*W) result
// is scattered into the images' (C, H, W) blocks, so no whole-batch (N, C, H, W) <->
// (C, N*H*W) permutation is copied. Weight and bias gradients are summed per part, then
// across the parts.
#include <vector>

#include "core/tensor.h"
#include "ops/im2col.h"

namespace sg {

// y = conv2d(x, w, b) for contiguous x (N, C, H, W) and w (O, C, kh, kw); `g` is x's
// geometry. When `columns` is given it receives every image's columns, (N, C*kh*kw,
// Ho*Wo), for the weight gradient.
Tensor conv2d_forward_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g,
                          Tensor* columns);
// dx, dw, db as `needs` asks; `columns` as saved by the forward, or undefined (then rebuilt).
std::vector<Tensor> conv2d_backward_cpu(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& columns,
                                        const ConvGeometry& g, const std::vector<bool>& needs);

// y = conv_transpose2d(x, w, b) for contiguous x (N, Cin, H, W), w (Cin, Cout, kh, kw);
// `g` is the geometry of the output (the conv2d whose adjoint this is).
Tensor conv_transpose2d_forward_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g);
std::vector<Tensor> conv_transpose2d_backward_cpu(const Tensor& grad, const Tensor& x, const Tensor& w,
                                                  const ConvGeometry& g, const std::vector<bool>& needs);

}  // namespace sg
