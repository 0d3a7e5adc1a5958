// The CUDA backend's fast spectral-norm kernels: ops/spectral_norm.cpp's power iteration
// and its backward for one term along dim 0, each in two launches instead of a chain of
// GEMVs, reductions and elementwise kernels per layer and forward. sigma and every
// intermediate stay on the device: nothing is read back to the host, so a training step
// with SN can be captured as one CUDA graph. The CPU's counterparts are in
// cpu/spectral_norm.cpp; tests/test_cuda.cpp pins these to the textbook computation.
//
// Determinism: every sum is taken in a fixed order (a fixed tree per block, then the
// blocks' partial sums in block order by whichever block finishes last), so a run
// repeats exactly.
#include <cmath>

#include "core/captured_step.h"
#include "cuda/backend.h"
#include "cuda/context.cuh"

namespace sg::cuda {

namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;  // one warp per matrix row in the row pass
constexpr int kColumnsPerBlock = 256;
constexpr int kBlockSums = 256;   // threads of the backward's reduction blocks

template <class T>
__device__ T warp_sum(T x) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) x += __shfl_down_sync(0xffffffffu, x, offset);
  return x;
}

// The sum of `x` over a block of blockDim.x threads (a power of two, at most 1024), in a
// fixed tree order; the result is valid in thread 0.
template <class T>
__device__ T block_sum(T x, T* shared) {
  shared[threadIdx.x] = x;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  return shared[0];
}

// True in exactly one block: the last of the grid to get here. Its reads of the other
// blocks' global writes are safe: each block fences its writes before it counts, and the
// last block fences after it has seen the full count, before any of its threads reads.
__device__ bool last_block_done(unsigned* counter) {
  __shared__ bool last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    const unsigned done = atomicAdd(counter, 1u);
    last = done == gridDim.x - 1;
    if (last) {
      *counter = 0;  // ready for the next launch
      __threadfence();
    }
  }
  __syncthreads();
  return last;
}

// Pass 1 of a power-iteration step: t = M v, one warp per row of the (h x w) M.
template <class T>
__global__ void rows_times_v(const T* m, const T* v, T* t, int64_t h, int64_t w) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= h) return;
  const T* m_row = m + row * w;
  T sum = 0;
  for (int64_t c = lane; c < w; c += kWarp) sum += m_row[c] * v[c];
  sum = warp_sum(sum);
  if (lane == 0) t[row] = sum;
}

// Pass 2: u = t / max(||t||, eps), s = M^T u (one thread per column), and, in the last
// block, v = s / max(||s||, eps), sigma = ||s||^2 / max(||s||, eps). Every block sums ||t||^2
// itself (h values, cheap) so that no third launch is needed.
template <class T>
__global__ void columns_times_u(const T* m, const T* t, T* u, T* v, T* s, T* sigma, unsigned* counter, int64_t h,
                                int64_t w, double eps) {
  __shared__ T shared[kColumnsPerBlock];
  T squares = 0;
  for (int64_t r = threadIdx.x; r < h; r += blockDim.x) squares += t[r] * t[r];
  const T t_norm = block_sum(squares, shared);
  const T t_scale = T(1) / fmax(sqrt(t_norm), T(eps));
  __syncthreads();
  const int64_t column = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (column < w) {
    T sum = 0;
    for (int64_t r = 0; r < h; ++r) sum += m[r * w + column] * t[r];
    s[column] = sum * t_scale;
  }
  if (!last_block_done(counter)) return;
  const volatile T* s_all = s;  // written by the other blocks: read past this SM's L1
  T s_squares = 0;
  for (int64_t c = threadIdx.x; c < w; c += blockDim.x) s_squares += s_all[c] * s_all[c];
  const T s_norm = sqrt(block_sum(s_squares, shared));
  const T s_scale = T(1) / fmax(s_norm, T(eps));
  for (int64_t c = threadIdx.x; c < w; c += blockDim.x) v[c] = s_all[c] * s_scale;
  for (int64_t r = threadIdx.x; r < h; r += blockDim.x) u[r] = t[r] * t_scale;
  if (threadIdx.x == 0) *sigma = s_norm * s_norm * s_scale;
}

// Backward pass 1: inner = <G, W_sn> / scale, as block partial sums added in block order
// by the last block, which also writes coefficient = -factor * inner * term_weight.
template <class T>
__global__ void sn_inner_product(const T* g, const T* w_sn, int64_t n, T* partials, const T* factor, double scale,
                                 double term_weight, T* coefficient, unsigned* counter) {
  __shared__ T shared[kBlockSums];
  T sum = 0;
  SG_CUDA_LOOP(i, n) sum += g[i] * w_sn[i];
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
  if (!last_block_done(counter)) return;
  if (threadIdx.x == 0) {
    const volatile T* all = partials;  // written by the other blocks: read past this SM's L1
    T inner = 0;
    for (unsigned b = 0; b < gridDim.x; ++b) inner += all[b];
    *coefficient = -*factor * (inner / T(scale)) * T(term_weight);
  }
}

// Backward pass 2: dW[r][c] = factor G[r][c] + coefficient u[r] v[c].
template <class T>
__global__ void sn_rank_one_update(const T* g, const T* u, const T* v, const T* factor, const T* coefficient, T* out,
                                   int64_t h, int64_t w) {
  const T f = *factor, a = *coefficient;
  SG_CUDA_LOOP(i, h * w) out[i] = f * g[i] + a * u[i / w] * v[i % w];
}

}  // namespace

// Two zeroed counters for last_block_done (one per kernel that uses it), made when the
// fast table is built, before any capture: the kernels set them back to zero
// themselves, and the one stream orders every use (a second stream, or a graph with
// branches, would need a pair per stream).
unsigned* spectral_norm_counters() {
  static unsigned* counters = [] {
    check_not_capturing("making the spectral-norm kernels' counters");
    void* p = nullptr;
    check(cudaMalloc(&p, 2 * sizeof(unsigned)), "spectral norm counters");
    check(cudaMemsetAsync(p, 0, 2 * sizeof(unsigned), stream()), "spectral norm counters");
    check(cudaStreamSynchronize(stream()), "spectral norm counters");
    return static_cast<unsigned*>(p);
  }();
  return counters;
}

namespace {
unsigned* block_counter() { return spectral_norm_counters(); }

}  // namespace

Tensor power_iteration(const Tensor& m, const Tensor& u, const Tensor& v, int iterations, double eps) {
  const int64_t h = m.shape()[0], w = m.shape()[1];
  Tensor sigma = zeros({}, {m.dtype(), m.device(), false});
  Tensor t = empty({h}, {m.dtype(), m.device(), false});
  Tensor s = empty({w}, {m.dtype(), m.device(), false});
  unsigned* counter = block_counter();
  dispatch_float(m.dtype(), "power_iteration", [&](auto zero) {
    using T = decltype(zero);
    const unsigned row_blocks = static_cast<unsigned>((h + kRowsPerBlock - 1) / kRowsPerBlock);
    const unsigned column_blocks = static_cast<unsigned>((w + kColumnsPerBlock - 1) / kColumnsPerBlock);
    for (int k = 0; k < iterations; ++k) {
      rows_times_v<T><<<row_blocks, kRowsPerBlock * kWarp, 0, stream()>>>(m.data<T>(), v.data<T>(), t.data<T>(), h, w);
      columns_times_u<T><<<column_blocks, kColumnsPerBlock, 0, stream()>>>(
          m.data<T>(), t.data<T>(), u.data<T>(), v.data<T>(), s.data<T>(), sigma.data<T>(), counter, h, w, eps);
    }
  });
  check_launch("power_iteration");
  return sigma;
}

Tensor sn_backward_rank_one(const Tensor& grad, const Tensor& w_sn, const Tensor& u, const Tensor& v,
                            const Tensor& factor, double scale, double term_weight) {
  Tensor g = grad.contiguous(), w = w_sn.contiguous(), uc = u.contiguous(), vc = v.contiguous();
  Tensor f = factor.contiguous();
  Tensor out = empty_like(g);
  const int64_t h = uc.numel(), width = vc.numel(), n = g.numel();
  SG_CHECK(h * width == n && w.numel() == n, "spectral_norm_backward: expected a gradient of ", h, "x", width,
           " = ", h * width, " elements (u by v) and W_sn of the same size, got ", n, " and ", w.numel());
  if (n == 0) return out;
  const unsigned sum_blocks = static_cast<unsigned>(std::min<int64_t>(1024, (n + kBlockSums - 1) / kBlockSums));
  Tensor partials = empty({sum_blocks}, {g.dtype(), g.device(), false});
  Tensor coefficient = empty({}, {g.dtype(), g.device(), false});
  dispatch_float(g.dtype(), "spectral_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    sn_inner_product<T><<<sum_blocks, kBlockSums, 0, stream()>>>(g.data<T>(), w.data<T>(), n, partials.data<T>(),
                                                                   f.data<T>(), scale, term_weight,
                                                                   coefficient.data<T>(), block_counter() + 1);
    sn_rank_one_update<T><<<blocks(n), kThreads, 0, stream()>>>(g.data<T>(), uc.data<T>(), vc.data<T>(), f.data<T>(),
                                                                coefficient.data<T>(), out.data<T>(), h, width);
  });
  check_launch("spectral_norm_backward");
  return out;
}

}  // namespace sg::cuda
