#include "cpu/im2col.h"

#include <algorithm>

#include "core/parallel.h"
#include "cpu/backend.h"
#include "kernels/dtype_dispatch.h"

namespace sg::cpu {

namespace {

// The range [lo, hi) of ow for which iw = ow*s - p + j lies inside [0, W).
void valid_ow(const ConvGeometry& g, int64_t j, int64_t* lo, int64_t* hi) {
  const int64_t wo = g.out_w();
  int64_t first = 0;
  while (first < wo && first * g.stride - g.padding + j < 0) ++first;
  int64_t last = wo;
  while (last > first && (last - 1) * g.stride - g.padding + j >= g.width) --last;
  *lo = first;
  *hi = last;
}

// dst[ow] = src[ow * s] and dst[ow * s] += src[ow] for ow in [lo, hi). Strides 1 and 2
// (every layer of the reference models) get loops with the stride known at compile time.
template <int64_t S, class T>
void copy_row_fixed(const T* __restrict src, T* __restrict dst, int64_t lo, int64_t hi) {
  for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * S];
}
template <class T>
void strided_copy_row(const T* src, int64_t s, T* dst, int64_t lo, int64_t hi) {
  if (s == 1) copy_row_fixed<1>(src, dst, lo, hi);
  else if (s == 2) copy_row_fixed<2>(src, dst, lo, hi);
  else
    for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * s];
}
template <int64_t S, class T>
void add_row_fixed(const T* __restrict src, T* __restrict dst, int64_t lo, int64_t hi) {
  for (int64_t ow = lo; ow < hi; ++ow) dst[ow * S] += src[ow];
}
template <class T>
void strided_add_row(const T* src, T* dst, int64_t s, int64_t lo, int64_t hi) {
  if (s == 1) add_row_fixed<1>(src, dst, lo, hi);
  else if (s == 2) add_row_fixed<2>(src, dst, lo, hi);
  else
    for (int64_t ow = lo; ow < hi; ++ow) dst[ow * s] += src[ow];
}

}  // namespace

// Visits every row (c, i, j) of one image's columns and every output row oh:
// visit(at, inside, from, lo, hi), where `at` is the offset of that stretch of Wo values
// in the columns, `inside` says whether the image row ih = oh*s - p + i exists, `from` is
// the image offset of (ih, iw = -p + j) so that column entry ow pairs with image entry
// from + ow*s, and [lo, hi) is the range of ow whose iw lies inside the row (it depends
// on j only, so it is found once per row).
template <class Visit>
void for_each_patch_row(const ConvGeometry& g, int64_t ld, Visit&& visit) {
  const int64_t ho = g.out_h(), wo = g.out_w(), s = g.stride, p = g.padding;
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t i = 0; i < g.kernel_h; ++i)
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        int64_t lo, hi;
        valid_ow(g, j, &lo, &hi);
        const int64_t row = ((c * g.kernel_h + i) * g.kernel_w + j) * ld;
        for (int64_t oh = 0; oh < ho; ++oh) {
          const int64_t ih = oh * s - p + i;
          visit(row + oh * wo, ih >= 0 && ih < g.height, (c * g.height + ih) * g.width - p + j, lo, hi);
        }
      }
}

template <class T>
void im2col_image(const T* image, const ConvGeometry& g, T* cols, int64_t ld) {
  const int64_t wo = g.out_w(), s = g.stride;
  for_each_patch_row(g, ld, [&](int64_t at, bool inside, int64_t from, int64_t lo, int64_t hi) {
    T* dst = cols + at;
    if (!inside) {
      std::fill(dst, dst + wo, T(0));
      return;
    }
    std::fill(dst, dst + lo, T(0));
    strided_copy_row(image + from, s, dst, lo, hi);
    std::fill(dst + hi, dst + wo, T(0));
  });
}

template <class T>
void col2im_image(const T* cols, int64_t ld, const ConvGeometry& g, T* image) {
  const int64_t s = g.stride;
  for_each_patch_row(g, ld, [&](int64_t at, bool inside, int64_t from, int64_t lo, int64_t hi) {
    if (inside) strided_add_row(cols + at, image + from, s, lo, hi);
  });
}

template void im2col_image<float>(const float*, const ConvGeometry&, float*, int64_t);
template void im2col_image<double>(const double*, const ConvGeometry&, double*, int64_t);
template void col2im_image<float>(const float*, int64_t, const ConvGeometry&, float*);
template void col2im_image<double>(const double*, int64_t, const ConvGeometry&, double*);

Tensor im2col(const Tensor& image, const ConvGeometry& g) {
  Tensor cols = empty({g.rows(), g.cols()}, {image.dtype(), image.device(), false});
  const int64_t image_size = g.channels * g.height * g.width, block = g.out_h() * g.out_w();
  dispatch_floating(image.dtype(), "im2col", [&](auto zero) {
    using T = decltype(zero);
    const T* x = image.data<T>();
    T* out = cols.data<T>();
    parallel_for(g.batch, 1, [&](int64_t n0, int64_t n1) {  // image n fills columns [n*L, (n+1)*L)
      for (int64_t n = n0; n < n1; ++n) im2col_image(x + n * image_size, g, out + n * block, g.cols());
    });
  });
  return cols;
}

Tensor col2im(const Tensor& cols, const ConvGeometry& g) {
  Tensor image = zeros({g.batch, g.channels, g.height, g.width}, {cols.dtype(), cols.device(), false});
  const int64_t image_size = g.channels * g.height * g.width, block = g.out_h() * g.out_w();
  dispatch_floating(cols.dtype(), "col2im", [&](auto zero) {
    using T = decltype(zero);
    const T* in = cols.data<T>();
    T* x = image.data<T>();
    parallel_for(g.batch, 1, [&](int64_t n0, int64_t n1) {  // each image's pixels are written by one thread
      for (int64_t n = n0; n < n1; ++n) col2im_image(in + n * block, g.cols(), g, x + n * image_size);
    });
  });
  return image;
}

}  // namespace sg::cpu
