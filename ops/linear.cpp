// linear:   y = x W^T + b                      x (N, in), W (out, in), b (out)
// backward: dx = G W,   dW = G^T x,   db = sum over the batch of G      (G = dL/dy)
// On the CPU each product is one GEMM straight into its result: y is filled with b
// row by row and the GEMM adds x W^T to it (beta = 1), so the bias costs no extra pass.
#include "ops/linear.h"

#include "core/autograd.h"
#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/ops.h"

namespace sg {

namespace {

// The CPU forward: y = x W^T (+ b) with one GEMM.
Tensor linear_forward_cpu(const Tensor& x_in, const Tensor& w_in, const Tensor& bias) {
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
Tensor bias_grad_cpu(const Tensor& g) {
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

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  SG_CHECK(weight.dim() == 2, "linear: expected a 2-d weight (out, in), got ", shape_str(weight.shape()));
  SG_CHECK(x.dim() == 2 && x.shape()[1] == weight.shape()[1], "linear: expected input of shape (N, ",
           weight.shape()[1], ") for a weight ", shape_str(weight.shape()), ", got ", shape_str(x.shape()));
  check_same_dtype_device(x, weight, "linear");
  if (bias.defined()) {
    check_same_dtype_device(x, bias, "linear");
    SG_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0], "linear: expected a bias of shape [",
             weight.shape()[0], "], got ", shape_str(bias.shape()));
  }
  // On a GPU the op is its composition (the CUDA matmul reads the transpose as a flag);
  // so is an empty product (no batch, or in = 0), which matmul already handles.
  if (!x.device().is_cpu() || x.numel() == 0 || weight.numel() == 0) {
    Tensor y = matmul(x, weight.t());
    return bias.defined() ? add(y, bias) : y;
  }
  Tensor y = linear_forward_cpu(x, weight, bias);
  return record("linear", {x, weight, bias}, y,
                [saved_x = save(x, "linear"), saved_w = save(weight, "linear")](const Tensor& grad_output,
                                                                               const std::vector<bool>& needs) {
                  Tensor g = grad_output.contiguous();
                  const Tensor& x = saved_x.get();
                  const Tensor& w = saved_w.get();
                  Tensor dx, dw, db;
                  if (needs[0]) dx = matmul(g, w);      // (N, out) (out, in)
                  if (needs[1]) dw = matmul(g.t(), x);  // (out, N) (N, in): G^T read transposed, no copy
                  if (needs.size() > 2 && needs[2]) db = bias_grad_cpu(g);
                  return TensorList{dx, dw, db};
                });
}

}  // namespace sg
