// batch_norm. With x_hat = (x - mean) * inv_std per channel, M elements per channel,
// and g = dL/dy:
//   d bias   = sum g
//   d weight = sum g x_hat
//   training: dx = weight * inv_std / M * (M g - sum g - x_hat sum(g x_hat))
//             (mean and variance depend on x, hence the two correction terms)
//   eval:     dx = weight * inv_std * g        (running statistics are constants)
#include "ops/batch_norm.h"

#include "core/autograd.h"
#include "ops/elementwise.h"

namespace sg {

namespace {

// The checks, and the (N, C, S) view every kernel works on.
BatchNormShape check_batch_norm_args(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                                     const Tensor& weight, const Tensor& bias, bool training) {
  SG_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: expected input (N, C) or (N, C, H, W), got ",
           shape_str(x.shape()));
  const int64_t channels = x.shape()[1];
  for (const Tensor* t : {&running_mean, &running_var, &weight, &bias}) {
    if (!t->defined()) continue;
    SG_CHECK(t->shape() == Shape{channels}, "batch_norm: expected per-channel tensors of shape [", channels,
             "], got ", shape_str(t->shape()));
    check_same_dtype_device(x, *t, "batch_norm");
  }
  SG_CHECK(running_mean.defined() == running_var.defined(),
           "batch_norm: expected both running_mean and running_var, or neither");
  SG_CHECK(training || running_mean.defined(), "batch_norm: eval mode needs running_mean and running_var");
  SG_CHECK(!running_mean.defined() || (running_mean.is_contiguous() && running_var.is_contiguous()),
           "batch_norm: running_mean and running_var must be contiguous (they are updated in place)");
  SG_CHECK(channels > 0, "batch_norm: expected at least one channel, got input ", shape_str(x.shape()));
  BatchNormShape shape{x.shape()[0], channels, x.dim() == 4 ? x.shape()[2] * x.shape()[3] : 1};
  SG_CHECK(!training || shape.per_channel() > 1,
           "batch_norm: training needs more than one value per channel, got input ", shape_str(x.shape()));
  return shape;
}

Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? t.contiguous() : Tensor(); }

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  const BatchNormShape shape = check_batch_norm_args(x_in, running_mean, running_var, weight, bias, training);
  Tensor x = x_in.contiguous();
  Tensor y = empty_like(x), x_hat = empty_like(x);
  Tensor inv_std = empty({shape.c}, {x.dtype(), x.device(), false});
  kernels_for(x).batch_norm_forward(x, y, x_hat, inv_std, contiguous_or_undefined(weight),
                                    contiguous_or_undefined(bias), running_mean, running_var, shape, training,
                                    momentum, eps);
  if (training && running_mean.defined()) {
    running_mean.storage().bump_version();
    running_var.storage().bump_version();
  }
  return record("batch_norm", {x_in, weight, bias}, y,
                [saved_hat = save(x_hat, "batch_norm"), saved_inv_std = save(inv_std, "batch_norm"),
                 saved_weight = weight.defined() ? save(weight, "batch_norm") : SavedTensor(), shape, training](
                    const Tensor& grad_output, const std::vector<bool>& needs) {
                  Tensor grad = grad_output.contiguous();
                  const TensorOptions options{grad.dtype(), grad.device(), false};
                  Tensor dx = needs[0] ? empty_like(grad) : Tensor();
                  Tensor dweight = needs[1] ? empty({shape.c}, options) : Tensor();
                  Tensor dbias = needs[2] ? empty({shape.c}, options) : Tensor();
                  Tensor weight = saved_weight.defined() ? saved_weight.get().contiguous() : Tensor();
                  kernels_for(grad).batch_norm_backward(grad, saved_hat.get(), saved_inv_std.get(), weight, dx,
                                                        dweight, dbias, shape, training);
                  return TensorList{dx, dweight, dbias};
                });
}

}  // namespace sg
