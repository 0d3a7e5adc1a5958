#pragma once
// The CPU elementwise machinery: map_unary / map_binary for the functors of
// kernels/pointwise.h (reached through kernels/kernels.cpp), and the loops and helpers
// the other CPU kernels are written with.
//
// Inner loops run over contiguous memory with no calls, branches or index arithmetic
// per element, so the compiler vectorises them.
#include <array>
#include <type_traits>

#include "core/parallel.h"
#include "core/tensor.h"
#include "kernels/dtype_dispatch.h"
#include "kernels/kernels.h"

namespace sg::cpu {

// Elementwise loops are split across threads only above this many elements: below it,
// waking a thread costs more than the loop (measured in bench/).
inline constexpr int64_t kElementwiseGrain = 65536;

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

// The loops themselves. The functor comes by value and the pointers are __restrict, so
// the compiler knows a store to y cannot change f's constants or the inputs, and
// vectorises (a functor read through a reference is reloaded after every store).
template <class T, class F>
void unary_loop(const T* __restrict x, T* __restrict y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}
template <class T, class F>
void binary_loop(const T* __restrict a, const T* __restrict b, T* __restrict out, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
}
template <class T, class F>  // b is one value
void binary_loop_scalar_b(const T* __restrict a, T b, T* __restrict out, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b);
}
template <class T, class F>  // a is one value
void binary_loop_scalar_a(T a, const T* __restrict b, T* __restrict out, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(a, b[i]);
}

// sum over k in [0, n) of term(k), with eight partial sums in T so that the loop
// vectorises (the compiler may not reorder one running sum by itself: no -ffast-math),
// added up in double at the end.
template <class T, class Term>
double vectorised_sum(int64_t n, Term term) {
  T partial[8] = {};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j) partial[j] += term(k + j);
  double total = 0;
  for (int j = 0; j < 8; ++j) total += partial[j];
  for (; k < n; ++k) total += term(k);
  return total;
}

// out = f(in), elementwise, as a new contiguous tensor.
template <class F>
Tensor map_unary(const Tensor& input, F f, const char* op) {
  Tensor in = input.contiguous();
  Tensor out = empty_like(in);
  dispatch_floating(in.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    const T* x = in.data<T>();
    T* y = out.data<T>();
    parallel_for(in.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
      unary_loop(x + begin, y + begin, end - begin, f);
    });
  });
  return out;
}

// out = f(a, b), elementwise with broadcasting, as a new contiguous tensor.
// `shape` is the broadcast shape of a and b (checked by the caller).
template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, const Shape& shape, F f, const char* op) {
  Tensor out = empty(shape, {a.dtype(), a.device(), false});
  dispatch_floating(a.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    T* po = out.data<T>();
    const int64_t n = out.numel();
    if (a.shape() == shape && b.shape() == shape && a.is_contiguous() && b.is_contiguous()) {
      parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
        binary_loop(pa + begin, pb + begin, po + begin, end - begin, f);
      });
      return;
    }
    if (b.numel() == 1 && a.shape() == shape && a.is_contiguous()) {
      const T s = pb[0];
      parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
        binary_loop_scalar_b(pa + begin, s, po + begin, end - begin, f);
      });
      return;
    }
    if (a.numel() == 1 && b.shape() == shape && b.is_contiguous()) {
      const T s = pa[0];
      parallel_for(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
        binary_loop_scalar_a(s, pb + begin, po + begin, end - begin, f);
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
        binary_loop(x, y, o, len, f);
      } else if (ia == 1 && ib == 0) {
        binary_loop_scalar_b(x, y[0], o, len, f);
      } else if (ia == 0 && ib == 1) {
        binary_loop_scalar_a(x[0], y, o, len, f);
      } else {
        for (int64_t i = 0; i < len; ++i) o[i] = f(x[i * ia], y[i * ib]);
      }
    });
  });
  return out;
}

}  // namespace sg::cpu
