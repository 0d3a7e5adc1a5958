#pragma once
// The geometry a kernel needs, shared by the CPU kernels (cpu/), the CUDA kernels
// (cuda/) and the ops that fill it in (ops/). Plain structs: no tensors, no device.
#include <cstdint>

#include "core/host_device.h"

namespace sg {

// A 2-d convolution seen from its image side. With an image batch (N, C, H, W), a
// kernel kh x kw, stride s and padding p, im2col's columns are (C*kh*kw, N*Ho*Wo):
// row (c, i, j), column (n, oh, ow) holds x[n, c, oh*s - p + i, ow*s - p + j] (0 outside).
struct ConvGeometry {
  int64_t batch, channels, height, width;  // the image side (N, C, H, W)
  int64_t kernel_h, kernel_w, stride, padding;
  SG_HD int64_t out_h() const { return (height + 2 * padding - kernel_h) / stride + 1; }
  SG_HD int64_t out_w() const { return (width + 2 * padding - kernel_w) / stride + 1; }
  SG_HD int64_t rows() const { return channels * kernel_h * kernel_w; }
  SG_HD int64_t cols() const { return batch * out_h() * out_w(); }
};

// Square pooling windows over `planes` (= N*C) planes of height x width.
struct PoolGeometry {
  int64_t planes, height, width, kernel, stride, padding, out_h, out_w;
};

// A contiguous tensor viewed as (outer, reduced, inner) for a reduction over the middle.
struct ReduceBlock {
  int64_t outer, reduced, inner;
};

// Batch norm's view of its input: (N, C, S) with S = H*W for images and 1 for (N, C).
struct BatchNormShape {
  int64_t n, c, s;
  int64_t per_channel() const { return n * s; }
};

// How BLAS reads the last two dims of a row-major operand: transposed or not, and the
// leading dimension.
struct BlasOperand {
  bool transposed = false;
  int64_t ld = 0;
};

}  // namespace sg
