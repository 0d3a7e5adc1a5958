#pragma once
// The CUDA backend as the ops see it: one host function per kernel family, each the
// CUDA counterpart of a CPU kernel in ops/ with the same name. The ops dispatch to
// these in one place per kernel (when the tensor's device is CUDA); the autograd code
// is shared. Definitions: cuda/*.cu. Without SG_WITH_CUDA (no nvcc at build time) a
// CUDA tensor cannot be created, so the stubs below are never reached.
#include <cstdint>

#include "core/tensor.h"
#include "ops/im2col.h"

namespace sg::cuda {

// Compiled in and at least one GPU present. Registers the CUDA device interface.
bool available();

// ---- elementwise (cuda/elementwise.cu): new contiguous outputs ---------------------------
#ifdef SG_WITH_CUDA
template <class F> Tensor map_unary(const Tensor& contiguous_input, F f, const char* op);
template <class F> Tensor map_binary(const Tensor& a, const Tensor& b, const Shape& shape, F f, const char* op);
#else
template <class F> Tensor map_unary(const Tensor&, F, const char* op) {
  detail::throw_error(op, ": sigmagrad was built without CUDA");
}
template <class F> Tensor map_binary(const Tensor&, const Tensor&, const Shape&, F, const char* op) {
  detail::throw_error(op, ": sigmagrad was built without CUDA");
}
#endif

// ---- copies (cuda/copy.cu) -------------------------------------------------------------------
// dst[i] = cast(src[i]) over dst's shape, src broadcast to it; both on the same GPU.
void copy(const Tensor& dst, const Tensor& src);
void fill(const Tensor& dst, double value);

// ---- reductions (cuda/reduce.cu): x contiguous, viewed as (outer, reduced, inner) ------------
void sum_block(const Tensor& x, const Tensor& out, int64_t outer, int64_t reduced, int64_t inner);
void extreme(const Tensor& x, const Tensor& values, const Tensor& indices, int64_t outer, int64_t reduced,
             int64_t inner, bool is_max);
// grad_in (zeros) [o, indices[o, i], i] = grad[o, i]
void extreme_backward(const Tensor& grad, const Tensor& indices, const Tensor& grad_in, int64_t outer,
                      int64_t reduced, int64_t inner);

// ---- GEMM through cuBLAS (cuda/matmul.cu) -----------------------------------------------------
// For b in [0, batch): C_b (m x n, row-major, ldc) = op(A_b) op(B_b), where A_b starts at
// a + b*stride_a and is read transposed when trans_a (likewise B). Row-major operands.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, int64_t lda, int64_t stride_a,
          const void* b, int64_t ldb, int64_t stride_b, void* c, int64_t ldc, int64_t stride_c, int64_t batch,
          DType dtype);

// ---- convolution data movement (cuda/im2col.cu) ---------------------------------------------------
Tensor im2col(const Tensor& image, const ConvGeometry& g);
Tensor col2im(const Tensor& cols, const ConvGeometry& g);

// ---- batch norm (cuda/batch_norm.cu): x as (n, c, s) --------------------------------------------
void batch_norm_forward(const Tensor& x, const Tensor& y, const Tensor& x_hat, const Tensor& inv_std,
                        const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, int64_t n, int64_t c, int64_t s, bool training, double momentum,
                        double eps);
void batch_norm_backward(const Tensor& grad, const Tensor& x_hat, const Tensor& inv_std, const Tensor& weight,
                         const Tensor& dx, const Tensor& dweight, const Tensor& dbias, int64_t n, int64_t c,
                         int64_t s, bool training);

// ---- pooling (cuda/pool.cu): planes of height x width, square windows ------------------------------
struct PoolShape {
  int64_t planes, height, width, kernel, stride, padding, out_h, out_w;
};
void max_pool_forward(const Tensor& x, const Tensor& y, const Tensor& argmax, const PoolShape& p);
void max_pool_backward(const Tensor& grad, const Tensor& argmax, const Tensor& dx, const PoolShape& p);
void avg_pool_forward(const Tensor& x, const Tensor& y, const PoolShape& p);
void avg_pool_backward(const Tensor& grad, const Tensor& dx, const PoolShape& p);

// ---- losses (cuda/loss.cu) -------------------------------------------------------------------------
// picked[i] = -log_probs[i, target[i]];  grad_in[i, target[i]] = -grad[i]
void nll_gather(const Tensor& log_probs, const Tensor& target, const Tensor& picked);
void nll_scatter(const Tensor& grad, const Tensor& target, const Tensor& grad_in);

// ---- optimisers (cuda/optim.cu): one fused kernel per parameter tensor --------------------------------
void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buffer, double lr, double momentum,
              double dampening, double weight_decay, bool nesterov, bool first);
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq, double lr,
               double beta1, double beta2, double eps, double weight_decay, bool decoupled, double bias1,
               double bias2);

}  // namespace sg::cuda
