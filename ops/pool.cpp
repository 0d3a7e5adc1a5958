// Pooling. Windows (kernel k, stride s, padding p) of each (n, c) plane:
//   max: y = max of the window; dx at the argmax += g
//   avg: y = sum of the window / k^2; every pixel of the window += g / k^2
#include "ops/pool.h"

#include <limits>

#include "core/autograd.h"
#include "cuda/backend.h"
#include "ops/elementwise.h"

namespace sg {

namespace {

struct PoolGeometry {
  int64_t planes, height, width, kernel, stride, padding;
  int64_t out_h() const { return (height + 2 * padding - kernel) / stride + 1; }
  int64_t out_w() const { return (width + 2 * padding - kernel) / stride + 1; }
};

PoolGeometry pool_geometry(const char* op, const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  SG_CHECK(x.dim() == 4, op, ": expected input of shape (N, C, H, W), got ", shape_str(x.shape()));
  if (stride < 0) stride = kernel;
  SG_CHECK(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel, op,
           ": expected kernel >= 1, stride >= 1 and 0 <= padding <= kernel/2, got kernel ", kernel, ", stride ",
           stride, ", padding ", padding);
  PoolGeometry g{x.shape()[0] * x.shape()[1], x.shape()[2], x.shape()[3], kernel, stride, padding};
  SG_CHECK(g.height + 2 * padding >= kernel && g.width + 2 * padding >= kernel, op, ": kernel ", kernel,
           " does not fit the padded input ", shape_str(x.shape()), " (padding ", padding, ")");
  return g;
}

cuda::PoolShape cuda_shape(const PoolGeometry& g) {
  return {g.planes, g.height, g.width, g.kernel, g.stride, g.padding, g.out_h(), g.out_w()};
}

// Calls fn(plane, oh, ow, ih0, iw0) for every output pixel; (ih0, iw0) is the window's corner.
template <class Fn>
void for_each_window(const PoolGeometry& g, Fn&& fn) {
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t oh = 0; oh < g.out_h(); ++oh)
      for (int64_t ow = 0; ow < g.out_w(); ++ow) fn(p, oh, ow, oh * g.stride - g.padding, ow * g.stride - g.padding);
}

}  // namespace

Tensor max_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride, int64_t padding) {
  PoolGeometry g = pool_geometry("max_pool2d", x_in, kernel, stride, padding);
  Tensor x = x_in.contiguous();
  Shape out_shape{x.shape()[0], x.shape()[1], g.out_h(), g.out_w()};
  Tensor y = empty(out_shape, {x.dtype(), x.device(), false});
  Tensor argmax = empty(out_shape, {DType::Int64, x.device(), false});  // flat input index of each maximum
  if (x.device().is_cuda()) {
    cuda::max_pool_forward(x, y, argmax, cuda_shape(g));
  } else {
    check_cpu(x, "max_pool2d");
    dispatch_floating(x.dtype(), "max_pool2d", [&](auto zero) {
      using T = decltype(zero);
      const T* px = x.data<T>();
      T* py = y.data<T>();
      int64_t* pa = argmax.data<int64_t>();
      int64_t out = 0;
      for_each_window(g, [&](int64_t p, int64_t, int64_t, int64_t ih0, int64_t iw0) {
        T best = -std::numeric_limits<T>::infinity();
        int64_t best_at = -1;
        for (int64_t i = std::max<int64_t>(ih0, 0); i < std::min(ih0 + g.kernel, g.height); ++i)
          for (int64_t j = std::max<int64_t>(iw0, 0); j < std::min(iw0 + g.kernel, g.width); ++j) {
            int64_t at = (p * g.height + i) * g.width + j;
            if (px[at] > best || best_at < 0) {
              best = px[at];
              best_at = at;
            }
          }
        py[out] = best;
        pa[out] = best_at;
        ++out;
      });
    });
  }
  Shape in_shape = x.shape();
  return record("max_pool2d", {x_in}, y, [argmax, in_shape, g](const Tensor& grad, const std::vector<bool>&) {
    Tensor gc = grad.contiguous();
    Tensor dx = zeros(in_shape, {gc.dtype(), gc.device(), false});
    if (gc.device().is_cuda()) {
      cuda::max_pool_backward(gc, argmax, dx, cuda_shape(g));
      return TensorList{dx};
    }
    dispatch_floating(gc.dtype(), "max_pool2d_backward", [&](auto zero) {
      using T = decltype(zero);
      const T* pg = gc.data<T>();
      const int64_t* pa = argmax.data<int64_t>();
      T* pdx = dx.data<T>();
      for (int64_t k = 0; k < argmax.numel(); ++k) pdx[pa[k]] += pg[k];
    });
    return TensorList{dx};
  });
}

Tensor avg_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride, int64_t padding) {
  PoolGeometry g = pool_geometry("avg_pool2d", x_in, kernel, stride, padding);
  Tensor x = x_in.contiguous();
  Shape out_shape{x.shape()[0], x.shape()[1], g.out_h(), g.out_w()};
  Tensor y = empty(out_shape, {x.dtype(), x.device(), false});
  const double divisor = static_cast<double>(kernel * kernel);
  if (x.device().is_cuda()) cuda::avg_pool_forward(x, y, cuda_shape(g));
  else dispatch_floating(x.dtype(), "avg_pool2d", [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t out = 0;
    for_each_window(g, [&](int64_t p, int64_t, int64_t, int64_t ih0, int64_t iw0) {
      T total = 0;
      for (int64_t i = std::max<int64_t>(ih0, 0); i < std::min(ih0 + g.kernel, g.height); ++i)
        for (int64_t j = std::max<int64_t>(iw0, 0); j < std::min(iw0 + g.kernel, g.width); ++j)
          total += px[(p * g.height + i) * g.width + j];
      py[out++] = static_cast<T>(total / divisor);
    });
  });
  Shape in_shape = x.shape();
  return record("avg_pool2d", {x_in}, y, [g, in_shape, divisor](const Tensor& grad, const std::vector<bool>&) {
    Tensor gc = grad.contiguous();
    Tensor dx = zeros(in_shape, {gc.dtype(), gc.device(), false});
    if (gc.device().is_cuda()) {
      cuda::avg_pool_backward(gc, dx, cuda_shape(g));
      return TensorList{dx};
    }
    dispatch_floating(gc.dtype(), "avg_pool2d_backward", [&](auto zero) {
      using T = decltype(zero);
      const T* pg = gc.data<T>();
      T* pdx = dx.data<T>();
      int64_t out = 0;
      for_each_window(g, [&](int64_t p, int64_t, int64_t, int64_t ih0, int64_t iw0) {
        const T share = static_cast<T>(pg[out++] / divisor);
        for (int64_t i = std::max<int64_t>(ih0, 0); i < std::min(ih0 + g.kernel, g.height); ++i)
          for (int64_t j = std::max<int64_t>(iw0, 0); j < std::min(iw0 + g.kernel, g.width); ++j)
            pdx[(p * g.height + i) * g.width + j] += share;
      });
    });
    return TensorList{dx};
  });
}

}  // namespace sg
