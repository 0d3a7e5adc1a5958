// linear:   y = x W^T + b                      x (N, in), W (out, in), b (out)
// backward: dx = G W,   dW = G^T x,   db = sum over the batch of G      (G = dL/dy)
// One graph node on every device. The textbook computation is the matmul and the bias
// add below; the CPU has a faster kernel for the same maths (cpu::linear_forward: one GEMM
// into y pre-filled with b, so the bias costs no extra pass; cpu::linear_bias_grad),
// pinned to it by tests/test_fast_paths.cpp.
#include "ops/linear.h"

#include "core/autograd.h"
#include "ops/arithmetic.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/reduce.h"

namespace sg {

void check_linear_args(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  SG_CHECK(weight.dim() == 2, "linear: expected a 2-d weight (out, in), got ", shape_str(weight.shape()));
  SG_CHECK(x.dim() == 2 && x.shape()[1] == weight.shape()[1], "linear: expected input of shape (N, ",
           weight.shape()[1], ") for a weight ", shape_str(weight.shape()), ", got ", shape_str(x.shape()));
  check_same_dtype_device(x, weight, "linear");
  if (bias.defined()) {
    check_same_dtype_device(x, bias, "linear");
    SG_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0], "linear: expected a bias of shape [",
             weight.shape()[0], "], got ", shape_str(bias.shape()));
  }
}

namespace {

// The textbook forward: x W^T (W^T a view the GEMM reads transposed), then + b.
Tensor linear_reference_forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  NoGradGuard no_grad;
  Tensor y = matmul(x, weight.t());
  return bias.defined() ? add(y, bias) : y;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_linear_args(x, weight, bias);
  // An empty product (no batch, or in = 0) goes the textbook way: matmul handles it.
  const bool empty_product = x.numel() == 0 || weight.numel() == 0;
  const FastKernels* fast = empty_product ? nullptr : fast_kernels_with(x.device(), &FastKernels::linear_forward);
  Tensor y = fast ? fast->linear_forward(x, weight, bias) : linear_reference_forward(x, weight, bias).detach();
  return record("linear", {x, weight, bias}, y,
                [saved_x = save(x, "linear"), saved_w = save(weight, "linear"), fast](
                    const Tensor& grad_output, const std::vector<bool>& needs) {
                  Tensor grad = grad_output.contiguous();
                  Tensor dx, dw, db;
                  if (needs[0]) dx = matmul(grad, saved_w.get());      // (N, out) (out, in)
                  if (needs[1]) dw = matmul(grad.t(), saved_x.get());  // (out, N) (N, in): G^T read transposed
                  if (needs.size() > 2 && needs[2]) db = fast ? fast->linear_bias_grad(grad) : sum(grad, {0});
                  return TensorList{dx, dw, db};
                });
}

}  // namespace sg
