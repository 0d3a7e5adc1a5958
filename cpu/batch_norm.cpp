// Batch norm on the CPU: the table entries behind ops/batch_norm.cpp (which has the maths).
// x is viewed as (N, C, S). Channels are independent, so both passes split the channels
// across threads; each step below works on a range [c0, c1) of channels, in one of two
// memory orders: for images (S > 1) channel c is N contiguous runs of S values; for
// (N, C) input (S = 1) channel c is a strided column, so the loops go row by row over a
// block of contiguous channels instead.
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/backend.h"
#include "cpu/elementwise.h"

namespace sg::cpu {

namespace {

// Channels per thread: a column block wide enough to be worth a thread, or a few planes.
int64_t channel_grain(const BatchNormShape& l) { return l.s == 1 ? 256 : 16; }

// Calls fn(offset, length) for each of channel c's contiguous runs.
template <class Fn>
void for_channel(const BatchNormShape& l, int64_t c, Fn&& fn) {
  for (int64_t i = 0; i < l.n; ++i) fn((i * l.c + c) * l.s, l.s);
}

// out[c] = sum over the channel's values of term(offset), for c in [c0, c1). In double;
// the same order of additions on every call, so forward and backward are reproducible.
template <class T, class Term>
void channel_sums(const BatchNormShape& l, int64_t c0, int64_t c1, double* out, Term term) {
  if (l.s == 1) {  // column sums, row by row over contiguous channels
    for (int64_t c = c0; c < c1; ++c) out[c] = 0;
    for (int64_t i = 0; i < l.n; ++i)
      for (int64_t c = c0; c < c1; ++c) out[c] += term(i * l.c + c);
    return;
  }
  for (int64_t c = c0; c < c1; ++c) {  // runs summed in T lanes (vectorised), added in double
    double total = 0;
    for_channel(l, c, [&](int64_t at, int64_t len) {
      total += vectorised_sum<T>(len, [&](int64_t k) { return static_cast<T>(term(at + k)); });
    });
    out[c] = total;
  }
}

// Training: the batch mean and biased variance of channels [c0, c1).
template <class T>
void batch_statistics(const T* x, const BatchNormShape& l, int64_t c0, int64_t c1, double* mean, double* var) {
  const double m = static_cast<double>(l.per_channel());
  channel_sums<T>(l, c0, c1, mean, [&](int64_t at) { return static_cast<double>(x[at]); });
  for (int64_t c = c0; c < c1; ++c) mean[c] /= m;
  if (l.s == 1) {
    channel_sums<T>(l, c0, c1, var, [&](int64_t at) {
      const double d = x[at] - mean[at % l.c];
      return d * d;
    });
  } else {
    for (int64_t c = c0; c < c1; ++c) {  // the deviations in T, as the vectorised loop sees them
      const T mu = static_cast<T>(mean[c]);
      channel_sums<T>(l, c, c + 1, var, [&](int64_t at) { return (x[at] - mu) * (x[at] - mu); });
    }
  }
  for (int64_t c = c0; c < c1; ++c) var[c] /= m;
}

// x_hat = (x - mean) inv_std and y = x_hat w + b over channels [c0, c1) (w = 1, b = 0
// when absent). The per-channel constants are hoisted out of the inner loops, whose
// pointers are __restrict, so that they vectorise.
template <class T>
void normalise(const T* x, T* x_hat, T* y, const double* mean, const T* inv_std, const T* w, const T* b,
               const BatchNormShape& l, int64_t c0, int64_t c1) {
  if (l.s == 1) {
    for (int64_t i = 0; i < l.n; ++i)
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t at = i * l.c + c;
        const T h = (x[at] - static_cast<T>(mean[c])) * inv_std[c];
        x_hat[at] = h;
        y[at] = h * (w ? w[c] : T(1)) + (b ? b[c] : T(0));
      }
    return;
  }
  for (int64_t c = c0; c < c1; ++c) {
    const T mu = static_cast<T>(mean[c]), inv = inv_std[c];
    const T scale = w ? w[c] : T(1), shift = b ? b[c] : T(0);
    for_channel(l, c, [&](int64_t at, int64_t len) {
      const T* __restrict in = x + at;
      T* __restrict hat = x_hat + at;
      T* __restrict out = y + at;
      for (int64_t k = 0; k < len; ++k) {
        const T h = (in[k] - mu) * inv;
        hat[k] = h;
        out[k] = h * scale + shift;
      }
    });
  }
}

// dx = scale (g - mean_g - x_hat mean_gh) over channels [c0, c1), per-channel constants.
template <class T>
void input_gradient(const T* g, const T* x_hat, const T* scale, const T* mean_g, const T* mean_gh, T* dx,
                    const BatchNormShape& l, int64_t c0, int64_t c1) {
  if (l.s == 1) {
    for (int64_t i = 0; i < l.n; ++i)
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t at = i * l.c + c;
        dx[at] = scale[c] * (g[at] - mean_g[c] - x_hat[at] * mean_gh[c]);
      }
    return;
  }
  for (int64_t c = c0; c < c1; ++c) {
    const T f = scale[c], mg = mean_g[c], mgh = mean_gh[c];
    for_channel(l, c, [&](int64_t at, int64_t len) {
      const T* __restrict gg = g + at;
      const T* __restrict hh = x_hat + at;
      T* __restrict out = dx + at;
      for (int64_t k = 0; k < len; ++k) out[k] = f * (gg[k] - mg - hh[k] * mgh);
    });
  }
}

}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& y, const Tensor& x_hat, const Tensor& inv_std,
                        const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, const BatchNormShape& l, bool training, double momentum,
                        double eps) {
  dispatch_floating(x.dtype(), "batch_norm", [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    T* ph = x_hat.data<T>();
    T* pinv = inv_std.data<T>();
    const T* pw = weight.defined() ? weight.data<T>() : nullptr;
    const T* pb = bias.defined() ? bias.data<T>() : nullptr;
    T* rm = running_mean.defined() ? running_mean.data<T>() : nullptr;
    T* rv = running_var.defined() ? running_var.data<T>() : nullptr;
    const double m = static_cast<double>(l.per_channel());
    std::vector<double> mean(static_cast<std::size_t>(l.c)), var(mean.size());
    parallel_for(l.c, channel_grain(l), [&](int64_t c0, int64_t c1) {
      if (training) batch_statistics(px, l, c0, c1, mean.data(), var.data());
      for (int64_t c = c0; c < c1; ++c) {
        if (training && rm) {  // running variance is the unbiased one, as in PyTorch
          rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean[c]);
          rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * var[c] * m / (m - 1));
        }
        if (!training) {
          mean[c] = rm[c];
          var[c] = rv[c];
        }
        pinv[c] = static_cast<T>(1.0 / std::sqrt(var[c] + eps));
      }
      normalise(px, ph, py, mean.data(), pinv, pw, pb, l, c0, c1);
    });
  });
}

void batch_norm_backward(const Tensor& grad, const Tensor& x_hat, const Tensor& inv_std, const Tensor& weight,
                         const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const BatchNormShape& l,
                         bool training) {
  dispatch_floating(grad.dtype(), "batch_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pg = grad.data<T>();
    const T* ph = x_hat.data<T>();
    const T* pinv = inv_std.data<T>();
    const T* pw = weight.defined() ? weight.data<T>() : nullptr;
    const double m = static_cast<double>(l.per_channel());
    std::vector<double> sum_g(static_cast<std::size_t>(l.c)), sum_gh(sum_g.size());
    std::vector<T> scale(sum_g.size()), mean_g(sum_g.size()), mean_gh(sum_g.size());
    parallel_for(l.c, channel_grain(l), [&](int64_t c0, int64_t c1) {
      channel_sums<T>(l, c0, c1, sum_g.data(), [&](int64_t at) { return static_cast<double>(pg[at]); });
      channel_sums<T>(l, c0, c1, sum_gh.data(), [&](int64_t at) { return static_cast<double>(pg[at]) * ph[at]; });
      for (int64_t c = c0; c < c1; ++c) {
        if (dweight.defined()) dweight.data<T>()[c] = static_cast<T>(sum_gh[c]);
        if (dbias.defined()) dbias.data<T>()[c] = static_cast<T>(sum_g[c]);
        // dx = (w inv_std) (g - mean(g) - x_hat mean(g x_hat)) in training; the means are 0 in eval.
        scale[c] = static_cast<T>((pw ? pw[c] : T(1)) * pinv[c]);
        mean_g[c] = static_cast<T>(training ? sum_g[c] / m : 0.0);
        mean_gh[c] = static_cast<T>(training ? sum_gh[c] / m : 0.0);
      }
      if (dx.defined())
        input_gradient(pg, ph, scale.data(), mean_g.data(), mean_gh.data(), dx.data<T>(), l, c0, c1);
    });
  });
}

}  // namespace sg::cpu
