#include "ops/im2col.h"

#include <cstring>

#include "cuda/backend.h"
#include "ops/elementwise.h"

namespace sg {

namespace {

// Visits every (row, n, oh) of the cols matrix with the matching image row pointer;
// `row_fn(col_row, image_row, ih_valid)` handles the ow loop.
template <class T, class RowFn>
void for_each_patch_row(const ConvGeometry& g, RowFn&& row_fn) {
  const int64_t ho = g.out_h(), wo = g.out_w();
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t i = 0; i < g.kernel_h; ++i)
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const int64_t row = (c * g.kernel_h + i) * g.kernel_w + j;
        for (int64_t n = 0; n < g.batch; ++n)
          for (int64_t oh = 0; oh < ho; ++oh) {
            const int64_t ih = oh * g.stride - g.padding + i;
            const int64_t col0 = (n * ho + oh) * wo;
            const int64_t image_row = ((n * g.channels + c) * g.height + ih) * g.width;
            row_fn(row * g.cols() + col0, image_row, ih >= 0 && ih < g.height, j);
          }
      }
}

// The range of ow for which iw = ow*s - p + j lies inside [0, W).
inline void valid_ow(const ConvGeometry& g, int64_t j, int64_t* lo, int64_t* hi) {
  const int64_t wo = g.out_w();
  int64_t first = 0;
  while (first < wo && first * g.stride - g.padding + j < 0) ++first;
  int64_t last = wo;
  while (last > first && (last - 1) * g.stride - g.padding + j >= g.width) --last;
  *lo = first;
  *hi = last;
}

}  // namespace

Tensor im2col(const Tensor& image, const ConvGeometry& g) {
  if (image.device().is_cuda()) return cuda::im2col(image, g);
  check_cpu(image, "im2col");
  Tensor cols = empty({g.rows(), g.cols()}, {image.dtype(), image.device(), false});
  dispatch_floating(image.dtype(), "im2col", [&](auto zero) {
    using T = decltype(zero);
    const T* x = image.data<T>();
    T* out = cols.data<T>();
    const int64_t wo = g.out_w(), s = g.stride, p = g.padding;
    for_each_patch_row<T>(g, [&](int64_t at, int64_t image_row, bool row_valid, int64_t j) {
      T* dst = out + at;
      if (!row_valid) {
        std::memset(dst, 0, sizeof(T) * static_cast<std::size_t>(wo));
        return;
      }
      int64_t lo, hi;
      valid_ow(g, j, &lo, &hi);
      for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = 0;
      const int64_t base = image_row - p + j;  // image index of ow = 0 (may lie left of the row)
      if (s == 1) {
        for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = x[base + ow];
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = x[base + ow * s];
      }
      for (int64_t ow = hi; ow < wo; ++ow) dst[ow] = 0;
    });
  });
  return cols;
}

Tensor col2im(const Tensor& cols, const ConvGeometry& g) {
  if (cols.device().is_cuda()) return cuda::col2im(cols, g);
  check_cpu(cols, "col2im");
  Tensor image = zeros({g.batch, g.channels, g.height, g.width}, {cols.dtype(), cols.device(), false});
  dispatch_floating(cols.dtype(), "col2im", [&](auto zero) {
    using T = decltype(zero);
    const T* in = cols.data<T>();
    T* x = image.data<T>();
    const int64_t s = g.stride, p = g.padding;
    for_each_patch_row<T>(g, [&](int64_t at, int64_t image_row, bool row_valid, int64_t j) {
      if (!row_valid) return;
      int64_t lo, hi;
      valid_ow(g, j, &lo, &hi);
      const T* src = in + at;
      const int64_t base = image_row - p + j;
      if (s == 1) {
        for (int64_t ow = lo; ow < hi; ++ow) x[base + ow] += src[ow];
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) x[base + ow * s] += src[ow];
      }
    });
  });
  return image;
}

}  // namespace sg
