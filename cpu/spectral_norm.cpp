// The CPU's fast spectral-norm kernels: ops/spectral_norm.cpp's power iteration done on
// the u, v buffers themselves by BLAS GEMV, and its backward for one term in two passes
// over memory. (sn_linear's kernels, which never
// write W_sn, are in cpu/linear.cpp.) Pinned to the textbook computation by tests/test_fast_paths.cpp.
#include <cblas.h>

#include <algorithm>
#include <cmath>
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

}  // namespace

Tensor sn_backward_rank_one(const Tensor& grad, const Tensor& w_sn, const Tensor& u, const Tensor& v,
                            const Tensor& factor, double scale, double term_weight) {
  return sn_backward_rank_one_impl(grad, w_sn, u, v, host_scalar(factor), scale, term_weight);
}

Tensor power_iteration(const Tensor& m, const Tensor& u, const Tensor& v, int iterations, double eps) {
  double sigma = 0;
  dispatch_floating(m.dtype(), "power_iteration", [&](auto zero) {
    using T = decltype(zero);
    for (int k = 0; k < iterations; ++k)
      sigma = power_step(m.data<T>(), m.shape()[0], m.shape()[1], u.data<T>(), v.data<T>(), eps);
  });
  return scalar_tensor(sigma, {m.dtype(), m.device(), false});
}

}  // namespace sg::cpu
