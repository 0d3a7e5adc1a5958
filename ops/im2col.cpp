#include "ops/im2col.h"

#include <cstring>

#include "core/parallel.h"
#include "cuda/backend.h"
#include "ops/elementwise.h"

namespace sg {

namespace {

// Visits the (row, n, oh) entries of the cols matrix for rows in [row_begin, row_end) and
// images in [n_begin, n_end), with the matching image row; `row_fn(col_row, image_row,
// ih_valid, j)` handles the ow loop. The ranges let im2col split the work by rows and
// col2im by images (each image's pixels are then written by one thread only).
template <class T, class RowFn>
void for_each_patch_row(const ConvGeometry& g, int64_t row_begin, int64_t row_end, int64_t n_begin, int64_t n_end,
                        RowFn&& row_fn) {
  const int64_t ho = g.out_h(), wo = g.out_w();
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t j = row % g.kernel_w, i = (row / g.kernel_w) % g.kernel_h, c = row / (g.kernel_w * g.kernel_h);
    for (int64_t n = n_begin; n < n_end; ++n)
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
    parallel_for(g.rows(), 1, [&](int64_t row_begin, int64_t row_end) {
    for_each_patch_row<T>(g, row_begin, row_end, 0, g.batch, [&](int64_t at, int64_t image_row, bool row_valid, int64_t j) {
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
    parallel_for(g.batch, 1, [&](int64_t n_begin, int64_t n_end) {
    for_each_patch_row<T>(g, 0, g.rows(), n_begin, n_end, [&](int64_t at, int64_t image_row, bool row_valid, int64_t j) {
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
  });
  return image;
}

}  // namespace sg
