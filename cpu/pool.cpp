// Pooling on the CPU: the table entries behind ops/pool.cpp. Each output pixel's window
// is visited in full; dx arrives zeroed.
#include <algorithm>
#include <limits>

#include "cpu/backend.h"
#include "kernels/dtype_dispatch.h"

namespace sg::cpu {

namespace {

// Calls fn(plane, ih0, iw0) for every output pixel in order; (ih0, iw0) is the window's corner.
template <class Fn>
void for_each_window(const PoolGeometry& g, Fn&& fn) {
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow) fn(p, oh * g.stride - g.padding, ow * g.stride - g.padding);
}

// Calls fn(at) for the flat input index of every window pixel inside the image.
template <class Fn>
void for_each_pixel(const PoolGeometry& g, int64_t p, int64_t ih0, int64_t iw0, Fn&& fn) {
  for (int64_t i = std::max<int64_t>(ih0, 0); i < std::min(ih0 + g.kernel, g.height); ++i)
    for (int64_t j = std::max<int64_t>(iw0, 0); j < std::min(iw0 + g.kernel, g.width); ++j)
      fn((p * g.height + i) * g.width + j);
}

}  // namespace

void max_pool_forward(const Tensor& x, const Tensor& y, const Tensor& argmax, const PoolGeometry& g) {
  dispatch_floating(x.dtype(), "max_pool2d", [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t* pa = argmax.data<int64_t>();
    int64_t out = 0;
    for_each_window(g, [&](int64_t p, int64_t ih0, int64_t iw0) {
      T best = -std::numeric_limits<T>::infinity();
      int64_t best_at = -1;
      for_each_pixel(g, p, ih0, iw0, [&](int64_t at) {
        if (px[at] > best || best_at < 0) {
          best = px[at];
          best_at = at;
        }
      });
      py[out] = best;
      pa[out] = best_at;
      ++out;
    });
  });
}

void max_pool_backward(const Tensor& grad, const Tensor& argmax, const Tensor& dx, const PoolGeometry&) {
  dispatch_floating(grad.dtype(), "max_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pg = grad.data<T>();
    const int64_t* pa = argmax.data<int64_t>();
    T* pdx = dx.data<T>();
    for (int64_t k = 0; k < argmax.numel(); ++k) pdx[pa[k]] += pg[k];
  });
}

void avg_pool_forward(const Tensor& x, const Tensor& y, const PoolGeometry& g) {
  const double divisor = static_cast<double>(g.kernel * g.kernel);
  dispatch_floating(x.dtype(), "avg_pool2d", [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t out = 0;
    for_each_window(g, [&](int64_t p, int64_t ih0, int64_t iw0) {
      T total = 0;
      for_each_pixel(g, p, ih0, iw0, [&](int64_t at) { total += px[at]; });
      py[out++] = static_cast<T>(total / divisor);
    });
  });
}

void avg_pool_backward(const Tensor& grad, const Tensor& dx, const PoolGeometry& g) {
  const double divisor = static_cast<double>(g.kernel * g.kernel);
  dispatch_floating(grad.dtype(), "avg_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pg = grad.data<T>();
    T* pdx = dx.data<T>();
    int64_t out = 0;
    for_each_window(g, [&](int64_t p, int64_t ih0, int64_t iw0) {
      const T share = static_cast<T>(pg[out++] / divisor);
      for_each_pixel(g, p, ih0, iw0, [&](int64_t at) { pdx[at] += share; });
    });
  });
}

}  // namespace sg::cpu
