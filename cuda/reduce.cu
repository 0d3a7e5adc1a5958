// Reductions on the GPU: the CUDA side of cpu/reduce.cpp. A contiguous input is viewed
// as (outer, reduced, inner); each output element is reduced by one block of threads
// with a fixed tree order, so results are the same from run to run (no atomics).
#include "cuda/backend.h"
#include "cuda/context.cuh"

namespace sg::cuda {

namespace {

template <class T>
__global__ void sum_kernel(const T* x, T* out, int64_t outer, int64_t reduced, int64_t inner) {
  __shared__ double partial[kThreads];
  for (int64_t o = blockIdx.x; o < outer * inner; o += gridDim.x) {
    const int64_t k = o / inner, i = o % inner;
    const T* src = x + k * reduced * inner + i;
    double total = 0;
    for (int64_t r = threadIdx.x; r < reduced; r += blockDim.x) total += static_cast<double>(src[r * inner]);
    partial[threadIdx.x] = total;
    __syncthreads();
    for (int step = blockDim.x / 2; step > 0; step /= 2) {
      if (threadIdx.x < step) partial[threadIdx.x] += partial[threadIdx.x + step];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[o] = static_cast<T>(partial[0]);
    __syncthreads();
  }
}

template <class T>
__global__ void extreme_kernel(const T* x, T* values, int64_t* indices, int64_t outer, int64_t reduced, int64_t inner,
                               bool is_max) {
  SG_CUDA_LOOP(o, outer * inner) {
    const int64_t k = o / inner, i = o % inner;
    const T* src = x + k * reduced * inner + i;
    T best = src[0];
    int64_t best_r = 0;
    for (int64_t r = 1; r < reduced && !isnan(best); ++r) {
      T c = src[r * inner];
      if ((is_max ? c > best : c < best) || isnan(c)) {
        best = c;
        best_r = r;
      }
    }
    values[o] = best;
    indices[o] = best_r;
  }
}

template <class T>
__global__ void extreme_backward_kernel(const T* grad, const int64_t* indices, T* grad_in, int64_t outer,
                                        int64_t reduced, int64_t inner) {
  SG_CUDA_LOOP(o, outer * inner) {
    const int64_t k = o / inner, i = o % inner;
    grad_in[(k * reduced + indices[o]) * inner + i] = grad[o];
  }
}

}  // namespace

void sum_block(const Tensor& x, const Tensor& out, const ReduceBlock& block) {
  const int64_t outer = block.outer, reduced = block.reduced, inner = block.inner;
  if (outer * inner == 0) return;
  dispatch_float(x.dtype(), "sum", [&](auto zero) {
    using T = decltype(zero);
    unsigned grid = static_cast<unsigned>(std::min<int64_t>(outer * inner, 65535));
    sum_kernel<<<grid, kThreads, 0, stream()>>>(x.data<T>(), out.data<T>(), outer, reduced, inner);
  });
  check_launch("sum");
}

void extreme(const Tensor& x, const Tensor& values, const Tensor& indices, const ReduceBlock& block, bool is_max) {
  const int64_t outer = block.outer, reduced = block.reduced, inner = block.inner;
  dispatch_float(x.dtype(), is_max ? "max" : "min", [&](auto zero) {
    using T = decltype(zero);
    extreme_kernel<<<blocks(outer * inner), kThreads, 0, stream()>>>(x.data<T>(), values.data<T>(),
                                                                     indices.data<int64_t>(), outer, reduced, inner,
                                                                     is_max);
  });
  check_launch(is_max ? "max" : "min");
}

void extreme_backward(const Tensor& grad, const Tensor& indices, const Tensor& grad_in, const ReduceBlock& block) {
  const int64_t outer = block.outer, reduced = block.reduced, inner = block.inner;
  dispatch_float(grad.dtype(), "max_backward", [&](auto zero) {
    using T = decltype(zero);
    extreme_backward_kernel<<<blocks(outer * inner), kThreads, 0, stream()>>>(
        grad.data<T>(), indices.data<int64_t>(), grad_in.data<T>(), outer, reduced, inner);
  });
  check_launch("max_backward");
}

}  // namespace sg::cuda
