// nll_loss's gather and scatter on the GPU: the CUDA side of cpu/loss.cpp.
#include "cuda/backend.h"
#include "cuda/context.cuh"

namespace sg::cuda {

namespace {
template <class T>
__global__ void gather_kernel(const T* lp, const int64_t* target, T* picked, int64_t n, int64_t classes) {
  SG_CUDA_LOOP(i, n) picked[i] = -lp[i * classes + target[i]];
}
template <class T>
__global__ void scatter_kernel(const T* g, const int64_t* target, T* grad_in, int64_t n, int64_t classes) {
  SG_CUDA_LOOP(i, n) grad_in[i * classes + target[i]] = -g[i];
}
}  // namespace

void nll_gather(const Tensor& log_probs, const Tensor& target, const Tensor& picked) {
  const int64_t n = log_probs.shape()[0], classes = log_probs.shape()[1];
  dispatch_float(log_probs.dtype(), "nll_loss", [&](auto zero) {
    using T = decltype(zero);
    gather_kernel<<<blocks(n), kThreads, 0, stream()>>>(log_probs.data<T>(), target.data<int64_t>(), picked.data<T>(),
                                                        n, classes);
  });
  check_launch("nll_loss");
}

void nll_scatter(const Tensor& grad, const Tensor& target, const Tensor& grad_in) {
  const int64_t n = grad_in.shape()[0], classes = grad_in.shape()[1];
  dispatch_float(grad.dtype(), "nll_loss_backward", [&](auto zero) {
    using T = decltype(zero);
    scatter_kernel<<<blocks(n), kThreads, 0, stream()>>>(grad.data<T>(), target.data<int64_t>(), grad_in.data<T>(), n,
                                                         classes);
  });
  check_launch("nll_loss_backward");
}

}  // namespace sg::cuda
