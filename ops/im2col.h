#pragma once
// im2col / col2im: the data movement that turns a convolution into one GEMM.
//
// For an image batch x of shape (N, C, H, W), a kernel kh x kw, stride s, padding p:
//   cols has shape (C*kh*kw, N*Ho*Wo); row (c, i, j), column (n, oh, ow) holds
//   x[n, c, oh*s - p + i, ow*s - p + j]  (0 outside the image).
// col2im is its adjoint: it adds each column entry back to the pixel it came from.
#include <cstdint>

#include "core/host_device.h"
#include "core/tensor.h"

namespace sg {

struct ConvGeometry {
  int64_t batch, channels, height, width;  // the image side (N, C, H, W)
  int64_t kernel_h, kernel_w, stride, padding;
  SG_HD int64_t out_h() const { return (height + 2 * padding - kernel_h) / stride + 1; }
  SG_HD int64_t out_w() const { return (width + 2 * padding - kernel_w) / stride + 1; }
  SG_HD int64_t rows() const { return channels * kernel_h * kernel_w; }
  SG_HD int64_t cols() const { return batch * out_h() * out_w(); }
};

// image: contiguous (N, C, H, W) -> new contiguous (C*kh*kw, N*Ho*Wo)
Tensor im2col(const Tensor& image, const ConvGeometry& g);
// cols: contiguous (C*kh*kw, N*Ho*Wo) -> new contiguous (N, C, H, W), overlaps summed
Tensor col2im(const Tensor& cols, const ConvGeometry& g);

// The CPU kernels for one image (g.batch is ignored): its columns form a (C*kh*kw) x
// (Ho*Wo) block whose rows lie `ld` elements apart (ld = Ho*Wo for a block of its own,
// N*Ho*Wo for image n's columns inside the batch's). col2im_image adds into `image`.
template <class T>
void im2col_image(const T* image, const ConvGeometry& g, T* cols, int64_t ld);
template <class T>
void col2im_image(const T* cols, int64_t ld, const ConvGeometry& g, T* image);

}  // namespace sg
