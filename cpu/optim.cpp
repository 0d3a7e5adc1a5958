// The optimisers' fused updates on the CPU: the table entries behind optim/sgd.cpp and
// optim/adam.cpp. One pass over each parameter tensor, all operands contiguous.
#include <cmath>

#include "core/parallel.h"
#include "cpu/backend.h"
#include "kernels/dtype_dispatch.h"

namespace sg::cpu {

namespace {

template <class T>
struct AdamConstants {
  T b1, b2, step_size, inv_sqrt_bias2, eps, l2, shrink;
};

// One pass over a parameter: the moments, then the weight. The constants come by value
// and the pointers are __restrict so that the loop vectorises.
template <class T>
void adam_update(T* __restrict w, const T* __restrict grad, T* __restrict m, T* __restrict v, int64_t n,
                 AdamConstants<T> c) {
  for (int64_t k = 0; k < n; ++k) {
    const T gk = grad[k] + c.l2 * w[k];
    const T mk = c.b1 * m[k] + (1 - c.b1) * gk;
    const T vk = c.b2 * v[k] + (1 - c.b2) * gk * gk;
    m[k] = mk;
    v[k] = vk;
    w[k] = w[k] * c.shrink - c.step_size * mk / (std::sqrt(vk) * c.inv_sqrt_bias2 + c.eps);
  }
}

}  // namespace

void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buffer, const Tensor& lr_value, double momentum,
              double dampening, double weight_decay, bool nesterov, bool first) {
  const double lr = *lr_value.data<double>();
  dispatch_floating(param.dtype(), "SGD.step", [&](auto zero) {
    using T = decltype(zero);
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* buf = buffer.data<T>();
    const T step = static_cast<T>(lr), wd = static_cast<T>(weight_decay);
    const T mom = static_cast<T>(momentum), damp = static_cast<T>(1 - dampening);
    const int64_t n = param.numel();
    if (momentum == 0) {
      for (int64_t k = 0; k < n; ++k) w[k] -= step * (g[k] + wd * w[k]);
      return;
    }
    for (int64_t k = 0; k < n; ++k) {
      T d = g[k] + wd * w[k];
      buf[k] = first ? d : mom * buf[k] + damp * d;
      w[k] -= step * (nesterov ? d + mom * buf[k] : buf[k]);
    }
  });
}

void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const Tensor& step_count, const Tensor& lr_value, double beta1, double beta2, double eps,
               double weight_decay, bool decoupled) {
  const double lr = *lr_value.data<double>();
  const auto t = static_cast<double>(++*step_count.data<int64_t>());
  const double bias1 = 1 - std::pow(beta1, t), bias2 = 1 - std::pow(beta2, t);
  dispatch_floating(param.dtype(), "Adam.step", [&](auto zero) {
    using T = decltype(zero);
    AdamConstants<T> c;
    c.b1 = static_cast<T>(beta1);
    c.b2 = static_cast<T>(beta2);
    c.step_size = static_cast<T>(lr / bias1);
    c.inv_sqrt_bias2 = static_cast<T>(1.0 / std::sqrt(bias2));
    c.eps = static_cast<T>(eps);
    c.l2 = static_cast<T>(decoupled ? 0.0 : weight_decay);
    c.shrink = static_cast<T>(decoupled ? 1.0 - lr * weight_decay : 1.0);
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    parallel_for(param.numel(), 32768, [&](int64_t begin, int64_t end) {
      adam_update(w + begin, g + begin, m + begin, v + begin, end - begin, c);
    });
  });
}

}  // namespace sg::cpu
