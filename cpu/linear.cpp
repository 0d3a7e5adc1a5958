// The CPU's fast linear kernels: ops/linear.cpp's products with the bias folded in, and
// ops/spectral_norm.cpp's sn_linear (a Linear layer with a spectrally normalised weight)
// with 1/sigma and the SN backward's rank-one correction folded into the GEMMs.
// Pinned to the textbook computations by tests/test_fast_paths.cpp.
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "cpu/backend.h"
#include "cpu/elementwise.h"
#include "cpu/gemm.h"
#include "kernels/dtype_dispatch.h"

namespace sg::cpu {

// y = x W^T + b with one GEMM: y is filled with b row by row and the GEMM adds x W^T to
// it (beta = 1), so the bias costs no extra pass.
Tensor linear_forward(const Tensor& x_in, const Tensor& w_in, const Tensor& bias) {
  BlasOperand lx{}, lw{};
  Tensor x = blas_ready(x_in, &lx), w = blas_ready(w_in, &lw);
  const int64_t n = x.shape()[0], in = x.shape()[1], out_features = w.shape()[0];
  Tensor y = empty({n, out_features}, {x.dtype(), x.device(), false});
  dispatch_floating(x.dtype(), "linear", [&](auto zero) {
    using T = decltype(zero);
    T* py = y.data<T>();
    if (bias.defined()) {
      Tensor b = bias.contiguous();
      const T* pb = b.data<T>();
      for (int64_t r = 0; r < n; ++r) std::copy(pb, pb + out_features, py + r * out_features);
    }
    // W^T is W read with the opposite transpose flag.
    gemm<T>(lx.transposed, !lw.transposed, n, out_features, in, T(1), x.data<T>(), lx.ld, w.data<T>(), lw.ld,
            bias.defined() ? T(1) : T(0), py, out_features);
  });
  return y;
}

// db[c] = sum_r G[r][c]: rows added in order, each a vectorised pass over the columns.
Tensor linear_bias_grad(const Tensor& grad) {
  Tensor g = grad.contiguous();
  const int64_t n = g.shape()[0], cols = g.shape()[1];
  Tensor db = zeros({cols}, {g.dtype(), g.device(), false});
  dispatch_floating(g.dtype(), "linear_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pg = g.data<T>();
    T* __restrict out = db.data<T>();
    for (int64_t r = 0; r < n; ++r) {
      const T* __restrict row = pg + r * cols;
      for (int64_t c = 0; c < cols; ++c) out[c] += row[c];
    }
  });
  return db;
}

// sn_linear's forward: y = factor x W^T + b, W_sn = factor W never written. The GEMM
// writes p = factor x W^T (alpha = factor), then y = p + b is one pass over (N, out),
// which also checks that p is finite: x W^T can overflow where x W_sn^T does not (a
// diverging run's weights), and then the kernel declines (an undefined result) and the
// op runs the textbook computation. `product`, when given, receives p for the backward.
Tensor sn_linear_forward(const Tensor& x_in, const Tensor& w_in, const Tensor& bias, const Tensor& factor_tensor,
                         Tensor* product) {
  const double factor = host_scalar(factor_tensor);
  BlasOperand lx{}, lw{};
  Tensor x = blas_ready(x_in, &lx), w = blas_ready(w_in, &lw);
  const int64_t n = x.shape()[0], in = x.shape()[1], out_features = w.shape()[0];
  Tensor p = empty({n, out_features}, {x.dtype(), x.device(), false});
  Tensor y = empty({n, out_features}, {x.dtype(), x.device(), false});
  bool finite = true;
  dispatch_floating(x.dtype(), "sn_linear", [&](auto zero) {
    using T = decltype(zero);
    gemm<T>(lx.transposed, !lw.transposed, n, out_features, in, static_cast<T>(factor), x.data<T>(), lx.ld,
            w.data<T>(), lw.ld, T(0), p.data<T>(), out_features);
    Tensor b = bias.defined() ? bias.contiguous() : Tensor();
    const T* pb = b.defined() ? b.data<T>() : nullptr;
    double check = 0;  // 0 * p is 0 for every finite p, NaN for an infinite or NaN one
    for (int64_t r = 0; r < n; ++r) {
      const T* __restrict p_row = p.data<T>() + r * out_features;
      T* __restrict y_row = y.data<T>() + r * out_features;
      if (pb)
        for (int64_t c = 0; c < out_features; ++c) y_row[c] = p_row[c] + pb[c];
      else
        std::copy(p_row, p_row + out_features, y_row);  // y is the caller's: the saved p stays private
      check += vectorised_sum<T>(out_features, [&](int64_t c) { return p_row[c] * T(0); });
    }
    finite = check == 0;
  });
  if (!finite) return Tensor();
  if (product) *product = p;
  return y;
}

// sn_linear's backward, with f = factor, a = term_weight and G = dL/dy (N, out):
//   dx = (f G) W                                  (f G: a pass over (N, out); W_sn never
//                                                  written, and G W cannot overflow where
//                                                  G W_sn would not)
//   dW = f G^T x - f a <G^T x, W_sn>/scale u v^T  (through sigma; without: f G^T x)
//   db = column sums of G
// <G^T x, W_sn> = <G, x W_sn^T> = <G, product>: a pass over (N, out), not over W. dW is
// pre-filled with the rank-one term and the GEMM adds f G^T x onto it (beta = 1): the
// fill takes the place of the zeroing a beta = 0 GEMM does, so the correction is free.
std::vector<Tensor> sn_linear_backward(const Tensor& grad, const Tensor& x_in, const Tensor& w_in,
                                       const Tensor& product, const Tensor& u, const Tensor& v,
                                       const Tensor& factor_tensor, double scale, double term_weight,
                                       bool through_sigma, const std::vector<bool>& needs) {
  const double factor = host_scalar(factor_tensor);
  Tensor g = grad.contiguous();
  BlasOperand lx{}, lw{};
  Tensor x = blas_ready(x_in, &lx), w = blas_ready(w_in, &lw);
  const int64_t n = g.shape()[0], out_features = g.shape()[1], in = x.shape()[1];
  Tensor dx, dw, db;
  dispatch_floating(g.dtype(), "sn_linear_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pg = g.data<T>();
    if (needs[0]) {
      Tensor scaled = empty({n, out_features}, {g.dtype(), g.device(), false});
      const T f = static_cast<T>(factor);
      const T* __restrict from = pg;
      T* __restrict to = scaled.data<T>();
      for (int64_t i = 0; i < n * out_features; ++i) to[i] = f * from[i];
      dx = empty({n, in}, {g.dtype(), g.device(), false});
      gemm<T>(false, lw.transposed, n, in, out_features, T(1), to, out_features, w.data<T>(), lw.ld, T(0),
              dx.data<T>(), in);
    }
    if (needs[1]) {
      dw = empty({out_features, in}, {g.dtype(), g.device(), false});
      T* pw = dw.data<T>();
      T beta = 0;
      if (through_sigma) {
        Tensor pc = product.contiguous();
        const T* pp = pc.data<T>();
        std::vector<double> row_dots(static_cast<std::size_t>(n));
        parallel_for(n, std::max<int64_t>(1, 65536 / std::max<int64_t>(out_features, 1)), [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            const T* g_row = pg + r * out_features;
            const T* p_row = pp + r * out_features;
            row_dots[static_cast<std::size_t>(r)] =
                vectorised_sum<T>(out_features, [&](int64_t c) { return g_row[c] * p_row[c]; });
          }
        });
        double inner = 0;
        for (double d : row_dots) inner += d;
        const double coefficient = -factor * (inner / scale) * term_weight;
        Tensor uc = u.contiguous(), vc = v.contiguous();
        const T* pu = uc.data<T>();
        const T* pv = vc.data<T>();
        parallel_for(out_features, std::max<int64_t>(1, 65536 / std::max<int64_t>(in, 1)), [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            const T a = static_cast<T>(coefficient) * pu[r];
            T* __restrict row = pw + r * in;
            for (int64_t c = 0; c < in; ++c) row[c] = a * pv[c];
          }
        });
        beta = 1;
      }
      // G^T x: G (N, out) read transposed.
      gemm<T>(true, lx.transposed, out_features, in, n, static_cast<T>(factor), pg, out_features, x.data<T>(), lx.ld,
              beta, pw, in);
    }
  });
  if (needs.size() > 2 && needs[2]) db = linear_bias_grad(g);
  return {dx, dw, db};
}

}  // namespace sg::cpu
