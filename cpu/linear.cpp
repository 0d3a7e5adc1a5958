// The CPU's fast linear kernels: ops/linear.cpp's products with the bias folded in.
// Pinned to the textbook computation by tests/test_fast_paths.cpp.
#include <algorithm>

#include "cpu/backend.h"
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

}  // namespace sg::cpu
