// Losses. Hand-written backward passes where they are cheaper or more stable than
// the composition of primitives (BCE on logits, log_softmax, nll).
#include "ops/loss.h"

#include "core/autograd.h"
#include "ops/arithmetic.h"
#include "ops/elementwise.h"
#include "ops/math.h"
#include "ops/reduce.h"

namespace sg {

namespace {
Tensor reduce(const Tensor& per_element, Reduction reduction) {
  switch (reduction) {
    case Reduction::Mean: return mean(per_element);
    case Reduction::Sum: return sum(per_element);
    case Reduction::None: return per_element;
  }
  return per_element;
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  SG_CHECK(a.shape() == b.shape(), op, ": input of shape ", shape_str(a.shape()), " and target of shape ",
           shape_str(b.shape()), " differ (expected the same shape)");
}
}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_shape(input, target, "mse_loss");
  return reduce(pow(sub(input, target), 2.0), reduction);
}

// l = max(x,0) - x y + log(1 + e^-|x|)     dx = g (sigmoid(x) - y),   dy = -g x
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction) {
  check_same_shape(logits, target, "binary_cross_entropy_with_logits");
  Tensor per_element = map_binary(logits, target, fn::BceWithLogits{}, "binary_cross_entropy_with_logits");
  record("binary_cross_entropy_with_logits", {logits, target}, per_element,
         [saved_x = save(logits, "bce_with_logits"), saved_y = save(target, "bce_with_logits")](
             const Tensor& g, const std::vector<bool>& needs) {
           const Tensor& x = saved_x.get();
           const Tensor& y = saved_y.get();
           Tensor dx = needs[0] ? mul(g, map_binary(x, y, fn::BceGradLogits{}, "bce_backward")) : Tensor();
           Tensor dy = needs[1] ? neg(mul(g, x)) : Tensor();
           return TensorList{dx, dy};
         });
  return reduce(per_element, reduction);
}

// y = x - logsumexp(x, dim)      dx = g - softmax(x) * sum(g, dim)
Tensor log_softmax(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "log_softmax");
  Tensor y;
  {
    NoGradGuard no_grad;
    y = sub(x.detach(), logsumexp(x.detach(), {dim}, true));
  }
  return record("log_softmax", {x}, y, [saved_y = save(y, "log_softmax"), dim](const Tensor& g, const std::vector<bool>&) {
    Tensor softmax = exp(saved_y.get());
    return TensorList{sub(g, mul(softmax, sum(g, {dim}, true)))};
  });
}

// l = -sum_i log_probs[i, t_i] (/ N)     d log_probs[i, t_i] = -g (/ N), 0 elsewhere
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction) {
  SG_CHECK(log_probs.dim() == 2, "nll_loss: expected log_probs of shape (N, C), got ", shape_str(log_probs.shape()));
  SG_CHECK(target.dtype() == DType::Int64, "nll_loss: expected int64 class indices as target, got ",
           dtype_name(target.dtype()));
  SG_CHECK(target.dim() == 1 && target.shape()[0] == log_probs.shape()[0], "nll_loss: expected a target of shape [",
           log_probs.shape()[0], "], got ", shape_str(target.shape()));
  const int64_t n = log_probs.shape()[0], classes = log_probs.shape()[1];
  std::vector<int64_t> labels = target.to_vector<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    SG_CHECK(labels[static_cast<std::size_t>(i)] >= 0 && labels[static_cast<std::size_t>(i)] < classes,
             "nll_loss: target ", labels[static_cast<std::size_t>(i)], " at position ", i, " is out of range for ",
             classes, " classes (expected 0..", classes - 1, ")");
  Tensor lp = log_probs.contiguous();
  Tensor picked = empty({n}, {lp.dtype(), lp.device(), false});
  Tensor device_target = target.to(lp.device()).contiguous();
  kernels_for(lp).nll_gather(lp, device_target, picked);
  Shape in_shape = log_probs.shape();
  record("nll_loss", {log_probs}, picked, [in_shape, device_target](const Tensor& g, const std::vector<bool>&) {
    Tensor grad_in = zeros(in_shape, {g.dtype(), g.device(), false});
    kernels_for(g).nll_scatter(g.contiguous(), device_target, grad_in);
    return TensorList{grad_in};
  });
  return reduce(picked, reduction);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction) {
  SG_CHECK(logits.dim() == 2, "cross_entropy: expected logits of shape (N, C), got ", shape_str(logits.shape()));
  return nll_loss(log_softmax(logits, 1), target, reduction);
}

}  // namespace sg
