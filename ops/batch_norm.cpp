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
    parallel_for(channels, 16, [&](int64_t c_begin, int64_t c_end) {  // channels are independent
    for (int64_t c = c_begin; c < c_end; ++c) {
      double mean, var;
      if (training) {
        double total = 0;
        for_channel<T>(l, c, [&](int64_t at, int64_t len) {
          for (int64_t k = 0; k < len; ++k) total += px[at + k];
        });
        mean = total / m;
        double squares = 0;
        for_channel<T>(l, c, [&](int64_t at, int64_t len) {
          for (int64_t k = 0; k < len; ++k) {
            double d = px[at + k] - mean;
            squares += d * d;
          }
        });
        var = squares / m;
        if (rm) {
          rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean);
          rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * squares / (m - 1));
        }
      } else {
        mean = rm[c];
        var = rv[c];
      }
      const T inv = static_cast<T>(1.0 / std::sqrt(var + eps));
      const T mu = static_cast<T>(mean);
      const T scale = pw ? pw[c] : T(1), shift = pb ? pb[c] : T(0);
      pinv[c] = inv;
      for_channel<T>(l, c, [&](int64_t at, int64_t len) {
        for (int64_t k = 0; k < len; ++k) {
          T h = (px[at + k] - mu) * inv;
          ph[at + k] = h;
          py[at + k] = h * scale + shift;
        }
      });
    }
    });
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
                    parallel_for(l.c, 16, [&](int64_t c_begin, int64_t c_end) {
                    for (int64_t c = c_begin; c < c_end; ++c) {
                      double sum_g = 0, sum_gh = 0;
                      for_channel<T>(l, c, [&](int64_t at, int64_t len) {
                        for (int64_t k = 0; k < len; ++k) {
                          sum_g += pg[at + k];
                          sum_gh += static_cast<double>(pg[at + k]) * ph[at + k];
                        }
                      });
                      if (dw.defined()) dw.data<T>()[c] = static_cast<T>(sum_gh);
                      if (db.defined()) db.data<T>()[c] = static_cast<T>(sum_g);
                      if (!dx.defined()) continue;
                      const T scale = static_cast<T>((pw ? pw[c] : T(1)) * pinv[c]);
                      T* pdx = dx.data<T>();
                      const T mean_g = static_cast<T>(training ? sum_g / m : 0.0);
                      const T mean_gh = static_cast<T>(training ? sum_gh / m : 0.0);
                      for_channel<T>(l, c, [&](int64_t at, int64_t len) {
                        for (int64_t k = 0; k < len; ++k)
                          pdx[at + k] = scale * (pg[at + k] - mean_g - ph[at + k] * mean_gh);
                      });
                    }
                    });
                  });
                  return TensorList{dx, dw, db};
                });
}

}  // namespace sg
