// Built only without nvcc: the CUDA entry points exist, say so, and are never reached
// (no CUDA tensor can be made: core/storage.cpp finds no CUDA device interface).
#ifndef SG_WITH_CUDA
#include "cuda/backend.h"

namespace sg::cuda {

namespace {
[[noreturn]] void absent(const char* op) { detail::throw_error(op, ": sigmagrad was built without CUDA"); }
}  // namespace

bool available() { return false; }
void copy(const Tensor&, const Tensor&) { absent("copy"); }
void fill(const Tensor&, double) { absent("fill"); }
void sum_block(const Tensor&, const Tensor&, int64_t, int64_t, int64_t) { absent("sum"); }
void extreme(const Tensor&, const Tensor&, const Tensor&, int64_t, int64_t, int64_t, bool) { absent("max"); }
void extreme_backward(const Tensor&, const Tensor&, const Tensor&, int64_t, int64_t, int64_t) { absent("max"); }
void gemm(bool, bool, int64_t, int64_t, int64_t, const void*, int64_t, int64_t, const void*, int64_t, int64_t, void*,
          int64_t, int64_t, int64_t, DType) {
  absent("matmul");
}
Tensor im2col(const Tensor&, const ConvGeometry&) { absent("im2col"); }
Tensor col2im(const Tensor&, const ConvGeometry&) { absent("col2im"); }
void batch_norm_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                        const Tensor&, const Tensor&, int64_t, int64_t, int64_t, bool, double, double) {
  absent("batch_norm");
}
void batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                         const Tensor&, int64_t, int64_t, int64_t, bool) {
  absent("batch_norm");
}
void max_pool_forward(const Tensor&, const Tensor&, const Tensor&, const PoolShape&) { absent("max_pool2d"); }
void max_pool_backward(const Tensor&, const Tensor&, const Tensor&, const PoolShape&) { absent("max_pool2d"); }
void avg_pool_forward(const Tensor&, const Tensor&, const PoolShape&) { absent("avg_pool2d"); }
void avg_pool_backward(const Tensor&, const Tensor&, const PoolShape&) { absent("avg_pool2d"); }
void nll_gather(const Tensor&, const Tensor&, const Tensor&) { absent("nll_loss"); }
void nll_scatter(const Tensor&, const Tensor&, const Tensor&) { absent("nll_loss"); }
void sgd_step(const Tensor&, const Tensor&, const Tensor&, double, double, double, double, bool, bool) { absent("SGD"); }
void adam_step(const Tensor&, const Tensor&, const Tensor&, const Tensor&, double, double, double, double, double, bool,
               double, double) {
  absent("Adam");
}

}  // namespace sg::cuda
#endif
