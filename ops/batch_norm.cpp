// batch_norm. With x_hat = (x - mean) * inv_std per channel, M elements per channel,
// and g = dL/dy:
//   d bias   = sum g
//   d weight = sum g x_hat
//   training: dx = weight * inv_std / M * (M g - sum g - x_hat sum(g x_hat))
//             (mean and variance depend on x, hence the two correction terms)
//   eval:     dx = weight * inv_std * g        (running statistics are constants)
#include "ops/batch_norm.h"

#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/parallel.h"
#include "cuda/backend.h"
#include "ops/elementwise.h"

namespace sg {

namespace {

// Views x as (N, C, S): S = H*W for images, 1 for (N, C).
struct Layout {
  int64_t n, c, s;
  int64_t per_channel() const { return n * s; }
};

template <class T, class Fn>
void for_channel(const Layout& l, int64_t c, Fn&& fn) {  // fn(pointer offset of a contiguous run, run length)
  for (int64_t i = 0; i < l.n; ++i) fn((i * l.c + c) * l.s, l.s);
}

// Per-channel sums for (N, C) input (S = 1): channel c is a column, so the sums run
// row by row over contiguous channels [c0, c1) rather than down strided columns.
template <class T, class Term>
void column_sums(const Layout& l, int64_t c0, int64_t c1, double* out, Term term) {
  for (int64_t c = c0; c < c1; ++c) out[c] = 0;
  for (int64_t i = 0; i < l.n; ++i)
    for (int64_t c = c0; c < c1; ++c) out[c] += term(i * l.c + c, c);
}

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  SG_CHECK(x_in.dim() == 2 || x_in.dim() == 4, "batch_norm: expected input (N, C) or (N, C, H, W), got ",
           shape_str(x_in.shape()));
  const int64_t channels = x_in.shape()[1];
  for (const Tensor* t : {&running_mean, &running_var, &weight, &bias}) {
    if (!t->defined()) continue;
    SG_CHECK(t->shape() == Shape{channels}, "batch_norm: expected per-channel tensors of shape [", channels,
             "], got ", shape_str(t->shape()));
    check_same_dtype_device(x_in, *t, "batch_norm");
  }
  SG_CHECK(running_mean.defined() == running_var.defined(),
           "batch_norm: expected both running_mean and running_var, or neither");
  SG_CHECK(training || running_mean.defined(), "batch_norm: eval mode needs running_mean and running_var");
  SG_CHECK(!running_mean.defined() || (running_mean.is_contiguous() && running_var.is_contiguous()),
           "batch_norm: running_mean and running_var must be contiguous (they are updated in place)");
  SG_CHECK(channels > 0, "batch_norm: expected at least one channel, got input ", shape_str(x_in.shape()));
  Layout l{x_in.shape()[0], channels, x_in.dim() == 4 ? x_in.shape()[2] * x_in.shape()[3] : 1};
  SG_CHECK(!training || l.per_channel() > 1, "batch_norm: training needs more than one value per channel, got input ",
           shape_str(x_in.shape()));
  Tensor x = x_in.contiguous();
  Tensor y = empty_like(x);
  Tensor x_hat = empty_like(x);
  Tensor inv_std = empty({channels}, {x.dtype(), x.device(), false});
  const Tensor w_c = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor b_c = bias.defined() ? bias.contiguous() : Tensor();
  if (x.device().is_cuda())
    cuda::batch_norm_forward(x, y, x_hat, inv_std, w_c, b_c, running_mean, running_var, l.n, l.c, l.s, training,
                             momentum, eps);
  else dispatch_floating(x.dtype(), "batch_norm", [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    T* ph = x_hat.data<T>();
    T* pinv = inv_std.data<T>();
    const T* pw = w_c.defined() ? w_c.data<T>() : nullptr;
    const T* pb = b_c.defined() ? b_c.data<T>() : nullptr;
    T* rm = running_mean.defined() ? running_mean.data<T>() : nullptr;
    T* rv = running_var.defined() ? running_var.data<T>() : nullptr;
    const double m = static_cast<double>(l.per_channel());
    std::vector<double> mean(static_cast<std::size_t>(channels)), var(mean.size());
    auto finish_channel = [&](int64_t c) {  // running statistics, then inv_std
      if (training && rm) {
        rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean[c]);
        rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * var[c] * m / (m - 1));
      }
      if (!training) {
        mean[c] = rm[c];
        var[c] = rv[c];
      }
      pinv[c] = static_cast<T>(1.0 / std::sqrt(var[c] + eps));
    };
    auto normalise = [&](int64_t at, int64_t c) {
      const T h = (px[at] - static_cast<T>(mean[c])) * pinv[c];
      ph[at] = h;
      py[at] = h * (pw ? pw[c] : T(1)) + (pb ? pb[c] : T(0));
    };
    if (l.s == 1) {  // (N, C): channels are columns; work on blocks of columns, row by row
      parallel_for(channels, 256, [&](int64_t c0, int64_t c1) {
        if (training) {
          column_sums<T>(l, c0, c1, mean.data(), [&](int64_t at, int64_t) { return static_cast<double>(px[at]); });
          for (int64_t c = c0; c < c1; ++c) mean[c] /= m;
          column_sums<T>(l, c0, c1, var.data(), [&](int64_t at, int64_t c) {
            const double d = px[at] - mean[c];
            return d * d;
          });
          for (int64_t c = c0; c < c1; ++c) var[c] /= m;
        }
        for (int64_t c = c0; c < c1; ++c) finish_channel(c);
        for (int64_t i = 0; i < l.n; ++i)
          for (int64_t c = c0; c < c1; ++c) normalise(i * l.c + c, c);
      });
    } else {  // (N, C, H, W): channel c is N runs of H*W contiguous values
      parallel_for(channels, 16, [&](int64_t c_begin, int64_t c_end) {  // channels are independent
        for (int64_t c = c_begin; c < c_end; ++c) {
          if (training) {
            double total = 0, squares = 0;
            for_channel<T>(l, c, [&](int64_t at, int64_t len) {
              total += vectorised_sum<T>(len, [&](int64_t k) { return px[at + k]; });
            });
            mean[c] = total / m;
            const T mu = static_cast<T>(mean[c]);
            for_channel<T>(l, c, [&](int64_t at, int64_t len) {
              squares += vectorised_sum<T>(len, [&](int64_t k) { return (px[at + k] - mu) * (px[at + k] - mu); });
            });
            var[c] = squares / m;
          }
          finish_channel(c);
          const T mu = static_cast<T>(mean[c]), inv = pinv[c];
          const T scale = pw ? pw[c] : T(1), shift = pb ? pb[c] : T(0);
          for_channel<T>(l, c, [&](int64_t at, int64_t len) {
            const T* __restrict in = px + at;
            T* __restrict hat = ph + at;
            T* __restrict out = py + at;
            for (int64_t k = 0; k < len; ++k) {
              const T h = (in[k] - mu) * inv;
              hat[k] = h;
              out[k] = h * scale + shift;
            }
          });
        }
      });
    }
  });
  if (training && running_mean.defined()) {
    running_mean.storage().bump_version();
    running_var.storage().bump_version();
  }
  return record("batch_norm", {x_in, weight, bias}, y,
                [saved_hat = save(x_hat, "batch_norm"), saved_inv = save(inv_std, "batch_norm"),
                 saved_w = weight.defined() ? save(weight, "batch_norm") : SavedTensor(), l, training](
                    const Tensor& grad, const std::vector<bool>& needs) {
                  const Tensor& x_hat = saved_hat.get();
                  Tensor g = grad.contiguous();
                  Tensor dx = needs[0] ? empty_like(g) : Tensor();
                  Tensor dw = needs[1] ? empty({l.c}, {g.dtype(), g.device(), false}) : Tensor();
                  Tensor db = needs[2] ? empty({l.c}, {g.dtype(), g.device(), false}) : Tensor();
                  const Tensor w_c = saved_w.defined() ? saved_w.get().contiguous() : Tensor();
                  if (g.device().is_cuda()) {
                    cuda::batch_norm_backward(g, x_hat, saved_inv.get(), w_c, dx, dw, db, l.n, l.c, l.s, training);
                    return TensorList{dx, dw, db};
                  }
                  dispatch_floating(g.dtype(), "batch_norm_backward", [&](auto zero) {
                    using T = decltype(zero);
                    const T* pg = g.data<T>();
                    const T* ph = x_hat.data<T>();
                    const T* pinv = saved_inv.get().data<T>();
                    const T* pw = w_c.defined() ? w_c.data<T>() : nullptr;
                    const double m = static_cast<double>(l.per_channel());
                    std::vector<double> sum_g(static_cast<std::size_t>(l.c)), sum_gh(sum_g.size());
                    // dx = (w inv_std) (g - mean(g) - x_hat mean(g x_hat)) in training; the means are 0 in eval.
                    auto dx_coefficients = [&](int64_t c, T* scale, T* mean_g, T* mean_gh) {
                      if (dw.defined()) dw.data<T>()[c] = static_cast<T>(sum_gh[c]);
                      if (db.defined()) db.data<T>()[c] = static_cast<T>(sum_g[c]);
                      *scale = static_cast<T>((pw ? pw[c] : T(1)) * pinv[c]);
                      *mean_g = static_cast<T>(training ? sum_g[c] / m : 0.0);
                      *mean_gh = static_cast<T>(training ? sum_gh[c] / m : 0.0);
                    };
                    if (l.s == 1) {
                      parallel_for(l.c, 256, [&](int64_t c0, int64_t c1) {
                        column_sums<T>(l, c0, c1, sum_g.data(), [&](int64_t at, int64_t) { return static_cast<double>(pg[at]); });
                        column_sums<T>(l, c0, c1, sum_gh.data(),
                                       [&](int64_t at, int64_t) { return static_cast<double>(pg[at]) * ph[at]; });
                        std::vector<T> scale(static_cast<std::size_t>(c1 - c0)), mean_g(scale.size()), mean_gh(scale.size());
                        for (int64_t c = c0; c < c1; ++c) dx_coefficients(c, &scale[c - c0], &mean_g[c - c0], &mean_gh[c - c0]);
                        if (!dx.defined()) return;
                        T* pdx = dx.data<T>();
                        for (int64_t i = 0; i < l.n; ++i)
                          for (int64_t c = c0; c < c1; ++c) {
                            const int64_t at = i * l.c + c;
                            pdx[at] = scale[c - c0] * (pg[at] - mean_g[c - c0] - ph[at] * mean_gh[c - c0]);
                          }
                      });
                      return;
                    }
                    parallel_for(l.c, 16, [&](int64_t c_begin, int64_t c_end) {
                    for (int64_t c = c_begin; c < c_end; ++c) {
                      for_channel<T>(l, c, [&](int64_t at, int64_t len) {
                        sum_g[c] += vectorised_sum<T>(len, [&](int64_t k) { return pg[at + k]; });
                        sum_gh[c] += vectorised_sum<T>(len, [&](int64_t k) { return pg[at + k] * ph[at + k]; });
                      });
                      T scale, mean_g, mean_gh;
                      dx_coefficients(c, &scale, &mean_g, &mean_gh);
                      if (!dx.defined()) continue;
                      T* pdx = dx.data<T>();
                      for_channel<T>(l, c, [&](int64_t at, int64_t len) {
                        const T* __restrict gg = pg + at;
                        const T* __restrict hh = ph + at;
                        T* __restrict out = pdx + at;
                        for (int64_t k = 0; k < len; ++k) out[k] = scale * (gg[k] - mean_g - hh[k] * mean_gh);
                      });
                    }
                    });
                  });
                  return TensorList{dx, dw, db};
                });
}

}  // namespace sg
