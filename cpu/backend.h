#pragma once
// The CPU backend as the dispatch point sees it: the functions that fill the CPU row of
// kernels/kernels.h, named and typed like their CUDA counterparts in cuda/backend.h (the
// table's comments say what each computes), plus the CPU's fast kernels. Definitions:
// cpu/*.cpp, one file per family, as in cuda/.
#include <vector>

#include "core/tensor.h"
#include "kernels/geometry.h"
#include "kernels/kernels.h"

namespace sg::cpu {

const Kernels& kernels();
const FastKernels& fast_kernels();

// ---- the table's entries (as in cuda/backend.h) --------------------------------------------------
void copy(const Tensor& dst, const Tensor& src);                                  // cpu/copy.cpp
void fill(const Tensor& dst, double value);
void add_scaled_inplace(const Tensor& dst, const Tensor& other, double alpha);
void scale_inplace(const Tensor& dst, double factor);
void require_positive_finite(const Tensor& value, const CheckedValue& what);
// The one value of a CPU tensor, read directly: kernels use it, not item(), which a
// captured step refuses (core/captured_step.h). cpu/checks.cpp.
double host_scalar(const Tensor& value);
void sum_block(const Tensor& x, const Tensor& out, const ReduceBlock& block);     // cpu/reduce.cpp
void extreme(const Tensor& x, const Tensor& values, const Tensor& indices, const ReduceBlock& block, bool is_max);
void extreme_backward(const Tensor& grad, const Tensor& indices, const Tensor& grad_in, const ReduceBlock& block);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, int64_t lda, int64_t stride_a,
          const void* b, int64_t ldb, int64_t stride_b, void* c, int64_t ldc, int64_t stride_c, int64_t batch,
          DType dtype);                                                            // cpu/gemm.cpp
Tensor im2col(const Tensor& image, const ConvGeometry& geometry);                        // cpu/im2col.cpp
Tensor col2im(const Tensor& cols, const ConvGeometry& geometry);
void batch_norm_forward(const Tensor& x, const Tensor& y, const Tensor& x_hat, const Tensor& inv_std,
                        const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, const BatchNormShape& shape, bool training, double momentum,
                        double eps);                                               // cpu/batch_norm.cpp
void batch_norm_backward(const Tensor& grad, const Tensor& x_hat, const Tensor& inv_std, const Tensor& weight,
                         const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const BatchNormShape& shape,
                         bool training);
void max_pool_forward(const Tensor& x, const Tensor& y, const Tensor& argmax, const PoolGeometry& geometry);  // cpu/pool.cpp
void max_pool_backward(const Tensor& grad, const Tensor& argmax, const Tensor& dx, const PoolGeometry& geometry);
void avg_pool_forward(const Tensor& x, const Tensor& y, const PoolGeometry& geometry);
void avg_pool_backward(const Tensor& grad, const Tensor& dx, const PoolGeometry& geometry);
void nll_gather(const Tensor& log_probs, const Tensor& target, const Tensor& picked);  // cpu/loss.cpp
void nll_scatter(const Tensor& grad, const Tensor& target, const Tensor& grad_in);
void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buffer, const Tensor& lr, double momentum,
              double dampening, double weight_decay, bool nesterov, bool first);  // cpu/optim.cpp
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& step_count, const Tensor& lr, double beta1, double beta2, double eps,
               double weight_decay, bool decoupled);

// ---- fast kernels (FastKernels in kernels/kernels.h); tests/test_fast_paths.cpp pins each
// to the textbook computation in its op's file --------------------------------------------------------
// cpu/conv.cpp: ops/conv.cpp's GEMMs on small groups of images
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& geometry, Tensor* columns);
std::vector<Tensor> conv2d_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& columns,
                                    const ConvGeometry& geometry, const std::vector<bool>& needs);
Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& geometry);
std::vector<Tensor> conv_transpose2d_backward(const Tensor& grad, const Tensor& x, const Tensor& w,
                                              const ConvGeometry& geometry, const std::vector<bool>& needs);
// cpu/linear.cpp: ops/linear.cpp's products with the bias folded into the GEMM
Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias);
Tensor linear_bias_grad(const Tensor& grad);
// ops/spectral_norm.cpp's sn_linear with 1/sigma as the GEMM's alpha and the rank-one
// correction folded into the weight-gradient GEMM
Tensor sn_linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& factor, Tensor* product);
std::vector<Tensor> sn_linear_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& product,
                                       const Tensor& u, const Tensor& v, const Tensor& factor, double scale,
                                       double term_weight, bool through_sigma, const std::vector<bool>& needs);
// cpu/spectral_norm.cpp: ops/spectral_norm.cpp's power iteration on the buffers by BLAS
// GEMV, and its backward for one term in two passes over memory
Tensor power_iteration(const Tensor& m, const Tensor& u, const Tensor& v, int iterations, double eps);
Tensor sn_backward_rank_one(const Tensor& grad, const Tensor& w_sn, const Tensor& u, const Tensor& v,
                            const Tensor& factor, double scale, double term_weight);

}  // namespace sg::cpu
