// Elementwise kernels: the CUDA side of map_unary / map_binary (kernels/kernels.h).
// The scalar math is the functors of kernels/pointwise.h (marked SG_HD), instantiated
// here for the GPU from the same list the CPU build uses, so both devices compute with
// the very same expressions and neither can miss a functor the other has.
#include "cuda/backend.h"
#include "cuda/context.cuh"
#include "kernels/pointwise.h"

namespace sg::cuda {

namespace {

template <class T, class F>
__global__ void unary_kernel(const T* in, T* out, int64_t n, F f) {
  SG_CUDA_LOOP(i, n) out[i] = f(in[i]);
}

template <class T, class F>
__global__ void binary_contiguous_kernel(const T* a, const T* b, T* out, int64_t n, F f) {
  SG_CUDA_LOOP(i, n) out[i] = f(a[i], b[i]);
}

template <class T, class F>
__global__ void binary_broadcast_kernel(const T* a, const T* b, T* out, int64_t n, Geometry g, F f) {
  SG_CUDA_LOOP(i, n) out[i] = f(a[offset_of(g, 0, i)], b[offset_of(g, 1, i)]);
}

}  // namespace

template <class F>
Tensor map_unary(const Tensor& in, F f, const char* op) {
  Tensor out = empty_like(in);
  const int64_t n = in.numel();
  if (n == 0) return out;
  dispatch_float(in.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    unary_kernel<<<blocks(n), kThreads, 0, stream()>>>(static_cast<const T*>(in.raw_data()), out.data<T>(), n, f);
  });
  check_launch(op);
  return out;
}

template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, const Shape& shape, F f, const char* op) {
  Tensor out = empty(shape, {a.dtype(), a.device(), false});
  const int64_t n = out.numel();
  if (n == 0) return out;
  dispatch_float(a.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    if (a.shape() == shape && b.shape() == shape && a.is_contiguous() && b.is_contiguous()) {
      binary_contiguous_kernel<<<blocks(n), kThreads, 0, stream()>>>(pa, pb, out.data<T>(), n, f);
    } else {
      Shape sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
      const Shape* strides[] = {&sa, &sb};
      binary_broadcast_kernel<<<blocks(n), kThreads, 0, stream()>>>(pa, pb, out.data<T>(), n,
                                                                    make_geometry(shape, strides, 2, op), f);
    }
  });
  check_launch(op);
  return out;
}

// Every functor of kernels/pointwise.h, instantiated for the GPU.
#define SG_UNARY(F) template Tensor map_unary<F>(const Tensor&, F, const char*);
#define SG_BINARY(F) template Tensor map_binary<F>(const Tensor&, const Tensor&, const Shape&, F, const char*);
SG_UNARY_FUNCTORS(SG_UNARY)
SG_BINARY_FUNCTORS(SG_BINARY)

}  // namespace sg::cuda
