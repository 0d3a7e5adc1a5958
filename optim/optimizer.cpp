#include "optim/optimizer.h"

#include "core/autograd.h"
#include "core/captured_step.h"

namespace sg {

Optimizer::Optimizer(std::vector<Tensor> params) : params_(std::move(params)) {
  // As in PyTorch: an empty list is almost always a model built after its optimiser.
  SG_CHECK(!params_.empty(), "optimizer: got an empty parameter list (expected at least one tensor; was the "
           "optimiser created before the model's layers?)");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    // As in PyTorch, a leaf that does not require grad (a frozen parameter) is accepted:
    // step() skips it while it is frozen, and it trains again once unfrozen.
    SG_CHECK(params_[i].defined(), "optimizer: parameter ", i, " is an undefined tensor");
    SG_CHECK(params_[i].is_leaf(), "optimizer: parameter ", i, " must be a leaf tensor (got the result of '",
             params_[i].grad_fn()->name(), "'; pass the tensor the model owns, or a detach()ed copy)");
    SG_CHECK(is_floating(params_[i].dtype()), "optimizer: parameter ", i, " has dtype ",
             dtype_name(params_[i].dtype()), ", expected float32 or float64 (only they have gradients)");
    SG_CHECK(params_[i].is_contiguous(), "optimizer: parameter ", i, " of shape ", shape_str(params_[i].shape()),
             " must be contiguous");
  }
}

Tensor Optimizer::gradient_to_apply(const Tensor& param) {
  const Tensor grad = param.grad();
  if (!grad.defined() || !param.requires_grad()) return Tensor();
  return grad.contiguous();
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  SG_CHECK(lr >= 0, "optimizer: expected a learning rate >= 0, got ", lr);
  // Inside a recorded step the fill would be recorded with this value: every replay
  // would set it again, and a rate set between replays would be lost.
  check_not_capturing("set_lr() (a rate to set between runs)");
  lr_ = lr;
  NoGradGuard no_grad;
  if (!lr_tensor_.defined()) lr_tensor_ = full({1}, lr, {DType::Float64, params_[0].device()});
  else lr_tensor_.fill_(lr);
}

const Tensor& Optimizer::lr_on(Device device) {
  if (lr_tensor_.device() != device) lr_tensor_ = lr_tensor_.to(device);
  return lr_tensor_;
}

void Optimizer::load_into(const char* optimizer, std::map<std::string, Tensor>& own,
                          const std::map<std::string, Tensor>& state) {
  for (auto& [key, t] : state)
    SG_CHECK(own.count(key), optimizer, ".load_state_dict: unexpected key \"", key, "\"");
  for (auto& [key, t] : own) {
    auto it = state.find(key);
    SG_CHECK(it != state.end(), optimizer, ".load_state_dict: missing key \"", key, "\"");
    SG_CHECK(it->second.shape() == t.shape(), optimizer, ".load_state_dict: \"", key, "\" has shape ",
             shape_str(it->second.shape()), ", expected ", shape_str(t.shape()));
    NoGradGuard no_grad;
    t.copy_(it->second);
  }
}

}  // namespace sg
