#pragma once
// The CPU elementwise machinery every pointwise op is built on.
//
// An op supplies a small functor with the scalar math, for example
//   struct Sigmoid { template <class T> SG_HD T operator()(T x) const { ... } };
// and calls map_unary(x, Sigmoid{}, "sigmoid"). The functor is SG_HD so that the
// CUDA backend can instantiate the very same math in its kernels.
//
// Inner loops run over contiguous memory with no calls, branches or index
// arithmetic per element, so the compiler vectorises them.
#include <array>
#include <type_traits>

#include "core/host_device.h"
#include "core/parallel.h"
#include "core/tensor.h"
#include "cuda/backend.h"


namespace sg {

// Elementwise loops are split across threads only above this many elements: below it,
// waking a thread costs more than the loop (measured in bench/).
inline constexpr int64_t kElementwiseGrain = 65536;

// Runs fn(T{}) with T = float or double according to `dtype`.
template <class Fn>
decltype(auto) dispatch_floating(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    default: break;
  }
  detail::throw_error(op, ": expected a float32 or float64 tensor, got ", dtype_name(dtype));
}

// Runs fn(T{}) with T = float, double or int64_t according to `dtype`.
template <class Fn>
void dispatch_all(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: fn(float{}); break;
    case DType::Float64: fn(double{}); break;
    case DType::Int64: fn(int64_t{}); break;
  }
}

// Throws unless the tensor lives on the CPU (ops without a kernel for another device).
void check_cpu(const Tensor& t, const char* op);
void check_same_dtype_device(const Tensor& a, const Tensor& b, const char* op);

// NumPy broadcasting of two shapes; a clear error naming both shapes when they clash.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Strides that read `t` as if it had `shape` (size-1 and missing dims get stride 0).
Shape broadcast_strides(const Tensor& t, const Shape& shape);

// Calls row(offsets, length) once per innermost row of `shape`, where offsets[k] is
// the element offset of operand k at the row's start and strides[k] its strides.
template <std::size_t N, class Row>
void for_each_row(const Shape& shape, const std::array<Shape, N>& strides, std::array<int64_t, N> base,
                  Row&& row) {
  const std::size_t ndim = shape.size();
  if (ndim == 0) {
    row(base, int64_t{1});
    return;
  }
  for (int64_t s : shape)
    if (s == 0) return;
  const int64_t inner = shape[ndim - 1];
  Shape counter(ndim, 0);
  std::array<int64_t, N> offsets = base;
  while (true) {
    row(offsets, inner);
    // Advance the counter over all dims but the innermost, like an odometer.
    std::size_t d = ndim - 1;
    while (d-- > 0) {
      ++counter[d];
      for (std::size_t k = 0; k < N; ++k) offsets[k] += strides[k][d];
      if (counter[d] < shape[d]) break;
      for (std::size_t k = 0; k < N; ++k) offsets[k] -= strides[k][d] * shape[d];
      counter[d] = 0;
    }
    if (d == static_cast<std::size_t>(-1)) return;
  }
}

// out = f(in), elementwise, as a new contiguous tensor.
template <class F>
Tensor map_unary(const Tensor& input, F f, const char* op) {
  if (input.device().is_cuda()) return cuda::map_unary(input.contiguous(), f, op);
  check_cpu(input, op);
  Tensor in = input.contiguous();
  Tensor out = empty_like(in);
  dispatch_floating(in.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    const T* x = in.data<T>();
    T* y = out.data<T>();
    parallel_for(in.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) y[i] = f(x[i]);
    });
  });
  return out;
}

// out = f(a, b), elementwise with broadcasting, as a new contiguous tensor.
template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, F f, const char* op) {
  check_same_dtype_device(a, b, op);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  if (a.device().is_cuda()) return cuda::map_binary(a, b, shape, f, op);
  check_cpu(a, op);
  Tensor out = empty(shape, {a.dtype(), a.device(), false});
  dispatch_floating(a.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    T* po = out.data<T>();
    const int64_t n = out.numel();
    if (a.shape() == shape && b.shape() == shape && a.is_contiguous() && b.is_contiguous()) {
      parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) po[i] = f(pa[i], pb[i]);
      });
      return;
    }
    if (b.numel() == 1 && a.shape() == shape && a.is_contiguous()) {
      const T s = pb[0];
      parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) po[i] = f(pa[i], s);
      });
      return;
    }
    if (a.numel() == 1 && b.shape() == shape && b.is_contiguous()) {
      const T s = pa[0];
      parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) po[i] = f(s, pb[i]);
      });
      return;
    }
    Shape sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
    Shape so = contiguous_strides(shape);
    const int64_t ia = shape.empty() ? 0 : sa.back(), ib = shape.empty() ? 0 : sb.back();
    for_each_row<3>(shape, {so, sa, sb}, {0, 0, 0}, [&](const std::array<int64_t, 3>& off, int64_t len) {
      T* o = po + off[0];
      const T* x = pa + off[1];
      const T* y = pb + off[2];
      if (ia == 1 && ib == 1) {
        for (int64_t i = 0; i < len; ++i) o[i] = f(x[i], y[i]);
      } else if (ia == 1 && ib == 0) {
        for (int64_t i = 0; i < len; ++i) o[i] = f(x[i], y[0]);
      } else if (ia == 0 && ib == 1) {
        for (int64_t i = 0; i < len; ++i) o[i] = f(x[0], y[i]);
      } else {
        for (int64_t i = 0; i < len; ++i) o[i] = f(x[i * ia], y[i * ib]);
      }
    });
  });
  return out;
}

}  // namespace sg
