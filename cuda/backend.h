#pragma once
// The CUDA backend as the dispatch point sees it: the functions that fill the CUDA row of
// kernels/kernels.h, each with the name and signature of its table entry (the table's
// comments say what each computes) and each the counterpart of the CPU kernel of the
// same name in cpu/. Definitions: cuda/*.cu; without nvcc at build time, cuda/no_cuda.cpp
// says the backend is absent.
#include <cstdint>

#include "core/tensor.h"
#include "kernels/geometry.h"
#include "kernels/kernels.h"

namespace sg::cuda {

// Compiled in and at least one GPU present. On the first call it registers the CUDA
// memory services (core/device.h) and builds the kernel table.
bool available();
// The CUDA kernel table, or nullptr when the backend is absent.
const Kernels* kernels();
// Its fast kernels (kernels/kernels.h: only power_iteration and sn_backward_rank_one, in
// cuda/spectral_norm.cu; the other entries are null), or nullptr when the backend is absent.
const FastKernels* fast_kernels();

// ---- elementwise (cuda/elementwise.cu), for the functors of kernels/pointwise.h --------------
template <class F>
Tensor map_unary(const Tensor& contiguous_input, F f, const char* op);
template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, const Shape& shape, F f, const char* op);

// ---- the table's entries ------------------------------------------------------------------------
void copy(const Tensor& dst, const Tensor& src);
void fill(const Tensor& dst, double value);
void add_scaled_inplace(const Tensor& dst, const Tensor& other, double alpha);
void scale_inplace(const Tensor& dst, double factor);
void require_positive_finite(const Tensor& value, const CheckedValue& what);
void sum_block(const Tensor& x, const Tensor& out, const ReduceBlock& block);
void extreme(const Tensor& x, const Tensor& values, const Tensor& indices, const ReduceBlock& block, bool is_max);
void extreme_backward(const Tensor& grad, const Tensor& indices, const Tensor& grad_in, const ReduceBlock& block);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, int64_t lda, int64_t stride_a,
          const void* b, int64_t ldb, int64_t stride_b, void* c, int64_t ldc, int64_t stride_c, int64_t batch,
          DType dtype);
Tensor im2col(const Tensor& image, const ConvGeometry& geometry);
Tensor col2im(const Tensor& cols, const ConvGeometry& geometry);
void batch_norm_forward(const Tensor& x, const Tensor& y, const Tensor& x_hat, const Tensor& inv_std,
                        const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, const BatchNormShape& shape, bool training, double momentum,
                        double eps);
void batch_norm_backward(const Tensor& grad, const Tensor& x_hat, const Tensor& inv_std, const Tensor& weight,
                         const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const BatchNormShape& shape,
                         bool training);
void max_pool_forward(const Tensor& x, const Tensor& y, const Tensor& argmax, const PoolGeometry& geometry);
void max_pool_backward(const Tensor& grad, const Tensor& argmax, const Tensor& dx, const PoolGeometry& geometry);
void avg_pool_forward(const Tensor& x, const Tensor& y, const PoolGeometry& geometry);
void avg_pool_backward(const Tensor& grad, const Tensor& dx, const PoolGeometry& geometry);
void nll_gather(const Tensor& log_probs, const Tensor& target, const Tensor& picked);
void nll_scatter(const Tensor& grad, const Tensor& target, const Tensor& grad_in);
void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buffer, const Tensor& lr, double momentum,
              double dampening, double weight_decay, bool nesterov, bool first);
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& step_count, const Tensor& lr, double beta1, double beta2, double eps,
               double weight_decay, bool decoupled);

// ---- fast kernels (cuda/spectral_norm.cu), the counterparts of cpu/spectral_norm.cpp's -------------
Tensor power_iteration(const Tensor& m, const Tensor& u, const Tensor& v, int iterations, double eps);
Tensor sn_backward_rank_one(const Tensor& grad, const Tensor& w_sn, const Tensor& u, const Tensor& v,
                            const Tensor& factor, double scale, double term_weight);

}  // namespace sg::cuda
