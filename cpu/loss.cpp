// The gather and scatter of nll_loss on the CPU: the table entries behind ops/loss.cpp.
// Targets are int64 class indices, already range-checked by the op.
#include "cpu/backend.h"
#include "kernels/dtype_dispatch.h"

namespace sg::cpu {

void nll_gather(const Tensor& log_probs, const Tensor& target, const Tensor& picked) {
  const int64_t n = log_probs.shape()[0], classes = log_probs.shape()[1];
  const int64_t* labels = target.data<int64_t>();
  dispatch_floating(log_probs.dtype(), "nll_loss", [&](auto zero) {
    using T = decltype(zero);
    const T* src = log_probs.data<T>();
    T* dst = picked.data<T>();
    for (int64_t i = 0; i < n; ++i) dst[i] = -src[i * classes + labels[i]];
  });
}

void nll_scatter(const Tensor& grad, const Tensor& target, const Tensor& grad_in) {
  const int64_t n = grad_in.shape()[0], classes = grad_in.shape()[1];
  const int64_t* labels = target.data<int64_t>();
  dispatch_floating(grad.dtype(), "nll_loss_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* src = grad.data<T>();
    T* dst = grad_in.data<T>();
    for (int64_t i = 0; i < n; ++i) dst[i * classes + labels[i]] = -src[i];
  });
}

}  // namespace sg::cpu
