// im2col / col2im on the GPU: the CUDA side of cpu/im2col.cpp. col2im gathers (each
// image pixel sums the column entries that came from it), so no atomics are needed
// and results repeat exactly.
#include "cuda/backend.h"
#include "cuda/context.cuh"

namespace sg::cuda {

namespace {

template <class T>
__global__ void im2col_kernel(const T* x, T* cols, ConvGeometry g, int64_t total) {
  const int64_t ho = g.out_h(), wo = g.out_w(), ncols = g.cols();
  SG_CUDA_LOOP(e, total) {
    const int64_t row = e / ncols, col = e % ncols;
    const int64_t j = row % g.kernel_w, i = (row / g.kernel_w) % g.kernel_h, c = row / (g.kernel_w * g.kernel_h);
    const int64_t ow = col % wo, oh = (col / wo) % ho, n = col / (wo * ho);
    const int64_t ih = oh * g.stride - g.padding + i, iw = ow * g.stride - g.padding + j;
    cols[e] = (ih >= 0 && ih < g.height && iw >= 0 && iw < g.width)
                  ? x[((n * g.channels + c) * g.height + ih) * g.width + iw]
                  : T(0);
  }
}

template <class T>
__global__ void col2im_kernel(const T* cols, T* x, ConvGeometry g, int64_t total) {
  const int64_t ho = g.out_h(), wo = g.out_w(), ncols = g.cols();
  SG_CUDA_LOOP(e, total) {
    const int64_t iw = e % g.width, ih = (e / g.width) % g.height, c = (e / (g.width * g.height)) % g.channels,
                  n = e / (g.width * g.height * g.channels);
    T sum = 0;
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      const int64_t top = ih + g.padding - i;  // = oh * stride
      if (top < 0 || top % g.stride != 0 || top / g.stride >= ho) continue;
      const int64_t oh = top / g.stride;
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const int64_t left = iw + g.padding - j;
        if (left < 0 || left % g.stride != 0 || left / g.stride >= wo) continue;
        const int64_t ow = left / g.stride;
        const int64_t row = (c * g.kernel_h + i) * g.kernel_w + j;
        sum += cols[row * ncols + (n * ho + oh) * wo + ow];
      }
    }
    x[e] = sum;
  }
}

}  // namespace

Tensor im2col(const Tensor& image, const ConvGeometry& g) {
  Tensor cols = empty({g.rows(), g.cols()}, {image.dtype(), image.device(), false});
  const int64_t total = cols.numel();
  if (total == 0) return cols;
  dispatch_float(image.dtype(), "im2col", [&](auto zero) {
    using T = decltype(zero);
    im2col_kernel<<<blocks(total), kThreads, 0, stream()>>>(image.data<T>(), cols.data<T>(), g, total);
  });
  check_launch("im2col");
  return cols;
}

Tensor col2im(const Tensor& cols, const ConvGeometry& g) {
  Tensor image = empty({g.batch, g.channels, g.height, g.width}, {cols.dtype(), cols.device(), false});
  const int64_t total = image.numel();
  if (total == 0) return image;
  dispatch_float(cols.dtype(), "col2im", [&](auto zero) {
    using T = decltype(zero);
    col2im_kernel<<<blocks(total), kThreads, 0, stream()>>>(cols.data<T>(), image.data<T>(), g, total);
  });
  check_launch("col2im");
  return image;
}

}  // namespace sg::cuda
