// Pooling on the GPU: the CUDA side of cpu/pool.cpp. Backward passes gather into each
// input pixel from the windows that cover it (deterministic, no atomics).
#include "cuda/backend.h"
#include "cuda/context.cuh"

namespace sg::cuda {

namespace {

template <class T>
__global__ void max_pool_kernel(const T* x, T* y, int64_t* argmax, PoolGeometry p, int64_t total) {
  SG_CUDA_LOOP(o, total) {
    const int64_t ow = o % p.out_w, oh = (o / p.out_w) % p.out_h, plane = o / (p.out_w * p.out_h);
    const int64_t ih0 = oh * p.stride - p.padding, iw0 = ow * p.stride - p.padding;
    T best = 0;
    int64_t best_at = -1;
    for (int64_t i = max(ih0, int64_t(0)); i < min(ih0 + p.kernel, p.height); ++i)
      for (int64_t j = max(iw0, int64_t(0)); j < min(iw0 + p.kernel, p.width); ++j) {
        const int64_t at = (plane * p.height + i) * p.width + j;
        if (best_at < 0 || x[at] > best) {
          best = x[at];
          best_at = at;
        }
      }
    y[o] = best;
    argmax[o] = best_at;
  }
}

// The output windows (oh, ow) that contain input pixel (ih, iw).
__device__ inline void covering(int64_t in, int64_t kernel, int64_t stride, int64_t padding, int64_t out, int64_t* lo,
                                int64_t* hi) {
  const int64_t top = in + padding;  // window o covers in when o*stride <= top < o*stride + kernel
  *lo = top < kernel ? 0 : (top - kernel) / stride + 1;
  *hi = min(top / stride + 1, out);
}

// The output windows covering input element e: planes' outputs [oh_lo, oh_hi) x [ow_lo, ow_hi).
struct Covering {
  int64_t plane, oh_lo, oh_hi, ow_lo, ow_hi;
};
__device__ inline Covering windows_covering(int64_t e, const PoolGeometry& p) {
  Covering c;
  const int64_t iw = e % p.width, ih = (e / p.width) % p.height;
  c.plane = e / (p.width * p.height);
  covering(ih, p.kernel, p.stride, p.padding, p.out_h, &c.oh_lo, &c.oh_hi);
  covering(iw, p.kernel, p.stride, p.padding, p.out_w, &c.ow_lo, &c.ow_hi);
  return c;
}

template <class T>
__global__ void max_pool_backward_kernel(const T* g, const int64_t* argmax, T* dx, PoolGeometry p, int64_t total) {
  SG_CUDA_LOOP(e, total) {
    const Covering c = windows_covering(e, p);
    T sum = 0;
    for (int64_t oh = c.oh_lo; oh < c.oh_hi; ++oh)
      for (int64_t ow = c.ow_lo; ow < c.ow_hi; ++ow) {
        const int64_t o = (c.plane * p.out_h + oh) * p.out_w + ow;
        if (argmax[o] == e) sum += g[o];
      }
    dx[e] = sum;
  }
}

template <class T>
__global__ void avg_pool_kernel(const T* x, T* y, PoolGeometry p, int64_t total) {
  SG_CUDA_LOOP(o, total) {
    const int64_t ow = o % p.out_w, oh = (o / p.out_w) % p.out_h, plane = o / (p.out_w * p.out_h);
    const int64_t ih0 = oh * p.stride - p.padding, iw0 = ow * p.stride - p.padding;
    T sum = 0;
    for (int64_t i = max(ih0, int64_t(0)); i < min(ih0 + p.kernel, p.height); ++i)
      for (int64_t j = max(iw0, int64_t(0)); j < min(iw0 + p.kernel, p.width); ++j)
        sum += x[(plane * p.height + i) * p.width + j];
    y[o] = sum / static_cast<T>(p.kernel * p.kernel);
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(const T* g, T* dx, PoolGeometry p, int64_t total) {
  SG_CUDA_LOOP(e, total) {
    const Covering c = windows_covering(e, p);
    T sum = 0;
    for (int64_t oh = c.oh_lo; oh < c.oh_hi; ++oh)
      for (int64_t ow = c.ow_lo; ow < c.ow_hi; ++ow) sum += g[(c.plane * p.out_h + oh) * p.out_w + ow];
    dx[e] = sum / static_cast<T>(p.kernel * p.kernel);
  }
}

}  // namespace

void max_pool_forward(const Tensor& x, const Tensor& y, const Tensor& argmax, const PoolGeometry& p) {
  dispatch_float(x.dtype(), "max_pool2d", [&](auto zero) {
    using T = decltype(zero);
    max_pool_kernel<<<blocks(y.numel()), kThreads, 0, stream()>>>(x.data<T>(), y.data<T>(), argmax.data<int64_t>(), p,
                                                                  y.numel());
  });
  check_launch("max_pool2d");
}

void max_pool_backward(const Tensor& grad, const Tensor& argmax, const Tensor& dx, const PoolGeometry& p) {
  dispatch_float(grad.dtype(), "max_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    max_pool_backward_kernel<<<blocks(dx.numel()), kThreads, 0, stream()>>>(grad.data<T>(), argmax.data<int64_t>(),
                                                                            dx.data<T>(), p, dx.numel());
  });
  check_launch("max_pool2d_backward");
}

void avg_pool_forward(const Tensor& x, const Tensor& y, const PoolGeometry& p) {
  dispatch_float(x.dtype(), "avg_pool2d", [&](auto zero) {
    using T = decltype(zero);
    avg_pool_kernel<<<blocks(y.numel()), kThreads, 0, stream()>>>(x.data<T>(), y.data<T>(), p, y.numel());
  });
  check_launch("avg_pool2d");
}

void avg_pool_backward(const Tensor& grad, const Tensor& dx, const PoolGeometry& p) {
  dispatch_float(grad.dtype(), "avg_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    avg_pool_backward_kernel<<<blocks(dx.numel()), kThreads, 0, stream()>>>(grad.data<T>(), dx.data<T>(), p,
                                                                            dx.numel());
  });
  check_launch("avg_pool2d_backward");
}

}  // namespace sg::cuda
