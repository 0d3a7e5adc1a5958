// The CPU's fast spectral-norm kernels: ops/spectral_norm.cpp's power iteration done on
// the u, v buffers themselves by BLAS GEMV (both GEMVs of a step in one pass over M), and
// its backward for one term in two passes over memory. (sn_linear's kernels, which never
// write W_sn, are in cpu/linear.cpp.) Pinned to the textbook computation by tests/test_fast_paths.cpp.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "cpu/backend.h"
#include "cpu/elementwise.h"

namespace sg::cpu {

namespace {

// The backward for a weight whose matrix view is itself (dim 0), on the CPU, in two
// passes over memory and with nothing materialised but the result:
//   inner = <G, W_sn> / scale                          (per-row dots, then their sum)
//   dL/dW[r][c] = f G[r][c] - f * inner * a * u[r] v[c],   f = scale / sigma, a = term weight
Tensor sn_backward_rank_one_impl(const Tensor& grad_output, const Tensor& saved_out, const Tensor& u, const Tensor& v,
                                 double factor, double scale, double term_weight) {
  Tensor g = grad_output.contiguous(), w_sn = saved_out.contiguous(), uc = u.contiguous(), vc = v.contiguous();
  Tensor grad = empty_like(g);
  const int64_t h = uc.numel(), w = vc.numel();
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(w, 1));
  dispatch_floating(g.dtype(), "spectral_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pg = g.data<T>();
    const T* pw = w_sn.data<T>();
    std::vector<double> row_dots(static_cast<std::size_t>(h));
    parallel_for(h, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* g_row = pg + r * w;
        const T* w_row = pw + r * w;
        row_dots[static_cast<std::size_t>(r)] = vectorised_sum<T>(w, [&](int64_t c) { return g_row[c] * w_row[c]; });
      }
    });
    double inner = 0;
    for (double d : row_dots) inner += d;
    inner /= scale;
    const T f = static_cast<T>(factor);
    const T* pu = uc.data<T>();
    const T* pv = vc.data<T>();
    T* out = grad.data<T>();
    parallel_for(h, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T a = static_cast<T>(-factor * inner * term_weight) * pu[r];
        const T* __restrict g_row = pg + r * w;
        T* __restrict out_row = out + r * w;
        for (int64_t c = 0; c < w; ++c) out_row[c] = f * g_row[c] + a * pv[c];
      }
    });
  });
  return grad;
}

// y = M x (transpose false) or y = M^T x (transpose true) for a row-major (h x w) M,
// by BLAS GEMV, split across the pool by output blocks when M is large.
template <class T>
void gemv(const T* m, int64_t h, int64_t w, bool transpose, const T* x, T* y) {
  auto call = [&](int64_t rows, int64_t cols, const T* block, const T* in, T* out) {
    const CBLAS_TRANSPOSE op = transpose ? CblasTrans : CblasNoTrans;
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemv(CblasRowMajor, op, (int)rows, (int)cols, 1.0f, block, (int)w, in, 1, 0.0f, out, 1);
    else
      cblas_dgemv(CblasRowMajor, op, (int)rows, (int)cols, 1.0, block, (int)w, in, 1, 0.0, out, 1);
  };
  const int64_t outputs = transpose ? w : h, inner = transpose ? h : w;
  parallel_for(outputs, std::max<int64_t>(16, 32768 / std::max<int64_t>(inner, 1)), [&](int64_t o0, int64_t o1) {
    if (transpose) call(h, o1 - o0, m + o0, x, y + o0);  // columns o0..o1 of M
    else call(o1 - o0, w, m + o0 * w, x, y + o0);        // rows o0..o1 of M
  });
}

// x <- x / max(||x||, eps); returns ||x||.
template <class T>
double normalize_in_place(T* x, int64_t n, double eps) {
  double squares = 0;
  for (int64_t i = 0; i < n; ++i) squares += static_cast<double>(x[i]) * x[i];
  const double norm = std::sqrt(squares);
  const T inverse = static_cast<T>(1.0 / std::max(norm, eps));
  for (int64_t i = 0; i < n; ++i) x[i] *= inverse;
  return norm;
}

// One power-iteration step on the buffers themselves: u <- N(M v), v <- N(M^T u).
// Returns sigma = u . (M v) for the new pair without a third pass over M: with
// v = M^T u / max(n, eps), n = ||M^T u||, it is n^2 / max(n, eps).
template <class T>
double power_step(const T* m, int64_t h, int64_t w, T* u, T* v, double eps) {
  gemv(m, h, w, false, v, u);
  normalize_in_place(u, h, eps);
  gemv(m, h, w, true, u, v);
  const double n = normalize_in_place(v, w, eps);
  return n * n / std::max(n, eps);
}

// y = M x or y = M^T x for a row-major (h x w) block with row stride ld, one BLAS call on
// this thread.
template <class T>
void gemv_serial(const T* m, int64_t h, int64_t w, int64_t ld, bool transpose, const T* x, T* y) {
  const CBLAS_TRANSPOSE op = transpose ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemv(CblasRowMajor, op, (int)h, (int)w, 1.0f, m, (int)ld, x, 1, 0.0f, y, 1);
  else
    cblas_dgemv(CblasRowMajor, op, (int)h, (int)w, 1.0, m, (int)ld, x, 1, 0.0, y, 1);
}

// The same step in one pass over M. u <- N(M v), then v <- N(M^T u) reads M twice, but
// M^T u = M^T t / max(||t||, eps) with t = M v: each block of rows gives its part of t and
// then, while the block is still in cache, its part of M^T t. The blocks are fixed by
// the shape (not by the threads) and their partial sums are added in block order, so the
// result does not depend on the thread count. When M^T t overflows (a float32 sigma
// beyond about 1e19) or nearly underflows, the second half is done the two-pass way,
// from u = N(t).
template <class T>
double power_step_one_pass(const T* m, int64_t h, int64_t w, T* u, T* v, double eps) {
  constexpr int64_t kBlockBytes = 128 * 1024;  // a block of M stays in L2 between its two GEMVs
  const int64_t rows = std::max<int64_t>({1, kBlockBytes / std::max<int64_t>(1, w * (int64_t)sizeof(T)), (h + 63) / 64});
  const int64_t blocks = (h + rows - 1) / rows;
  thread_local std::vector<T> partial;  // (blocks x w): each block's M_b^T t_b
  partial.resize(static_cast<std::size_t>(blocks * w));
  T* pz = partial.data();
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * rows, r1 = std::min(h, r0 + rows);
      gemv_serial(m + r0 * w, r1 - r0, w, w, false, v, u + r0);          // t_b = M_b v, into u
      gemv_serial(m + r0 * w, r1 - r0, w, w, true, u + r0, pz + b * w);  // M_b^T t_b
    }
  });
  const double t_norm = normalize_in_place(u, h, eps);  // u = N(t)
  const double t_scale = 1.0 / std::max(t_norm, eps);
  double squares = 0;  // of z = M^T t = sum over blocks, added in block order
  for (int64_t c = 0; c < w; ++c) {
    T z = pz[c];
    for (int64_t b = 1; b < blocks; ++b) z += pz[b * w + c];
    v[c] = z;
    squares += static_cast<double>(z) * z;
  }
  // M^T t overflowed, or is so small that T's subnormals may have eaten its digits
  // (a float32 M with singular values near 1e-19): the second half from u, as power_step.
  if (!std::isfinite(squares) || squares < static_cast<double>(std::numeric_limits<T>::min())) {
    gemv(m, h, w, true, u, v);
    const double n = normalize_in_place(v, w, eps);
    return n * n / std::max(n, eps);
  }
  const double n = std::sqrt(squares) * t_scale;  // ||M^T u||
  const T v_scale = static_cast<T>(t_scale / std::max(n, eps));
  for (int64_t c = 0; c < w; ++c) v[c] *= v_scale;
  return n * n / std::max(n, eps);
}

}  // namespace

Tensor sn_backward_rank_one(const Tensor& grad, const Tensor& w_sn, const Tensor& u, const Tensor& v,
                            const Tensor& factor, double scale, double term_weight) {
  return sn_backward_rank_one_impl(grad, w_sn, u, v, factor.item(), scale, term_weight);
}

Tensor power_iteration(const Tensor& m, const Tensor& u, const Tensor& v, int iterations, double eps) {
  double sigma = 0;
  dispatch_floating(m.dtype(), "power_iteration", [&](auto zero) {
    using T = decltype(zero);
    for (int k = 0; k < iterations; ++k)
      sigma = power_step_one_pass(m.data<T>(), m.shape()[0], m.shape()[1], u.data<T>(), v.data<T>(), eps);
  });
  return scalar_tensor(sigma, {m.dtype(), m.device(), false});
}

}  // namespace sg::cpu
