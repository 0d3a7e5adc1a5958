// Fused optimiser updates on the GPU, one kernel per parameter tensor: the CUDA side
// of cpu/optim.cpp (the same update equations; optim/sgd.h and optim/adam.h give them).
#include "cuda/backend.h"
#include "cuda/context.cuh"

namespace sg::cuda {

namespace {

// The learning rate comes from the device (set before the launch), so that a captured
// step replayed later uses the one set before each replay.
template <class T>
__global__ void sgd_kernel(T* w, const T* grad, T* buf, int64_t n, const double* lr_value, T momentum, T damp, T wd,
                           bool nesterov, bool first, bool use_momentum) {
  const T lr = T(*lr_value);
  SG_CUDA_LOOP(k, n) {
    T d = grad[k] + wd * w[k];
    if (use_momentum) {
      buf[k] = first ? d : momentum * buf[k] + damp * d;
      d = nesterov ? d + momentum * buf[k] : buf[k];
    }
    w[k] -= lr * d;
  }
}

__global__ void increment(int64_t* count) { ++*count; }

// t comes from the device (incremented by the launch before), and so does the learning
// rate, so that a captured step replayed later uses the next t and the current rate.
template <class T>
__global__ void adam_kernel(T* w, const T* grad, T* m, T* v, int64_t n, const int64_t* count, double beta1,
                            double beta2, const double* lr_value, T eps, double weight_decay, bool decoupled) {
  const double t = static_cast<double>(*count), lr = *lr_value;
  const T l2 = T(decoupled ? 0.0 : weight_decay), shrink = T(decoupled ? 1.0 - lr * weight_decay : 1.0);
  const T b1 = T(beta1), b2 = T(beta2);
  const T step_size = T(lr / (1 - pow(beta1, t)));
  const T inv_sqrt_bias2 = T(1.0 / sqrt(1 - pow(beta2, t)));
  SG_CUDA_LOOP(k, n) {
    T g = grad[k] + l2 * w[k];
    m[k] = b1 * m[k] + (1 - b1) * g;
    v[k] = b2 * v[k] + (1 - b2) * g * g;
    w[k] = w[k] * shrink - step_size * m[k] / (sqrt(v[k]) * inv_sqrt_bias2 + eps);
  }
}

}  // namespace

void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buffer, const Tensor& lr, double momentum,
              double dampening, double weight_decay, bool nesterov, bool first) {
  const int64_t n = param.numel();
  dispatch_float(param.dtype(), "SGD.step", [&](auto zero) {
    using T = decltype(zero);
    sgd_kernel<<<blocks(n), kThreads, 0, stream()>>>(param.data<T>(), grad.data<T>(), buffer.data<T>(), n,
                                                     lr.data<double>(), T(momentum), T(1 - dampening),
                                                     T(weight_decay), nesterov, first, momentum != 0);
  });
  check_launch("SGD.step");
}

void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& step_count, const Tensor& lr, double beta1, double beta2, double eps,
               double weight_decay, bool decoupled) {
  const int64_t n = param.numel();
  int64_t* count = step_count.data<int64_t>();
  increment<<<1, 1, 0, stream()>>>(count);
  dispatch_float(param.dtype(), "Adam.step", [&](auto zero) {
    using T = decltype(zero);
    adam_kernel<<<blocks(n), kThreads, 0, stream()>>>(param.data<T>(), grad.data<T>(), exp_avg.data<T>(),
                                                      exp_avg_sq.data<T>(), n, count, beta1, beta2,
                                                      lr.data<double>(), T(eps), weight_decay, decoupled);
  });
  check_launch("Adam.step");
}

}  // namespace sg::cuda
