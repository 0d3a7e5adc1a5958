// Reductions on the CPU: the table entries behind ops/reduce.cpp. A contiguous input is
// viewed as (outer, R, inner), R being the reduced extent, so that both "reduce the last
// dim" and "reduce the first dim" (a bias gradient over the batch) are plain loops over
// contiguous memory.
#include <cmath>

#include "cpu/backend.h"
#include "cpu/elementwise.h"

namespace sg::cpu {

void sum_block(const Tensor& x, const Tensor& out, const ReduceBlock& b) {
  dispatch_floating(x.dtype(), "sum", [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    T* o = out.data<T>();
    for (int64_t k = 0; k < b.outer; ++k) {
      const T* src = in + k * b.reduced * b.inner;
      T* dst = o + k * b.inner;
      if (b.inner == 1) {
        // Eight independent partial sums in double: vectorisable, and accurate for
        // float32 sums over millions of elements.
        double lanes[8] = {};
        int64_t r = 0;
        for (; r + 8 <= b.reduced; r += 8)
          for (int j = 0; j < 8; ++j) lanes[j] += src[r + j];
        double total = 0;
        for (; r < b.reduced; ++r) total += src[r];
        for (int j = 0; j < 8; ++j) total += lanes[j];
        dst[0] = static_cast<T>(total);
      } else {
        for (int64_t i = 0; i < b.inner; ++i) dst[i] = 0;
        for (int64_t r = 0; r < b.reduced; ++r)
          for (int64_t i = 0; i < b.inner; ++i) dst[i] += src[r * b.inner + i];
      }
    }
  });
}

// A NaN wins (as in PyTorch): once the best is NaN the scan stops.
void extreme(const Tensor& x, const Tensor& values, const Tensor& indices, const ReduceBlock& b, bool is_max) {
  dispatch_floating(x.dtype(), is_max ? "max" : "min", [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    T* v = values.data<T>();
    int64_t* idx = indices.data<int64_t>();
    for (int64_t k = 0; k < b.outer; ++k) {
      for (int64_t i = 0; i < b.inner; ++i) {
        const T* src = in + k * b.reduced * b.inner + i;
        T best = src[0];
        int64_t best_r = 0;
        for (int64_t r = 1; r < b.reduced && !std::isnan(best); ++r) {
          T candidate = src[r * b.inner];
          if ((is_max ? candidate > best : candidate < best) || std::isnan(candidate)) {
            best = candidate;
            best_r = r;
          }
        }
        v[k * b.inner + i] = best;
        idx[k * b.inner + i] = best_r;
      }
    }
  });
}

void extreme_backward(const Tensor& grad, const Tensor& indices, const Tensor& grad_in, const ReduceBlock& b) {
  dispatch_floating(grad.dtype(), "max_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* src = grad.data<T>();
    const int64_t* where = indices.data<int64_t>();
    T* dst = grad_in.data<T>();
    for (int64_t k = 0; k < b.outer; ++k)
      for (int64_t i = 0; i < b.inner; ++i) {
        int64_t j = k * b.inner + i;
        dst[(k * b.reduced + where[j]) * b.inner + i] = src[j];
      }
  });
}

}  // namespace sg::cpu
