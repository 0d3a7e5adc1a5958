#include "optim/adam.h"

#include <cmath>

#include "core/autograd.h"
#include "kernels/kernels.h"

namespace sg {

Adam::Adam(std::vector<Tensor> params, AdamOptions options) : Optimizer(std::move(params)), options_(options) {
  SG_CHECK(options.lr >= 0 && options.eps >= 0 && options.weight_decay >= 0, "Adam: expected lr, eps and "
           "weight_decay >= 0, got lr=", options.lr, " eps=", options.eps, " weight_decay=", options.weight_decay);
  SG_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
           "Adam: expected betas in [0, 1), got (", options.beta1, ", ", options.beta2, ")");
  set_lr(options.lr);
  for (const Tensor& p : params_) {
    exp_avg_.push_back(zeros_like(p));
    exp_avg_sq_.push_back(zeros_like(p));
  }
  // On the parameters' device: each step counts on the device (a captured step too).
  const Device device = params_.empty() ? Device::cpu() : params_[0].device();
  steps_ = zeros({static_cast<int64_t>(params_.size())}, {DType::Int64, device});
}

int64_t Adam::steps(std::size_t i) const {
  return static_cast<int64_t>(steps_.narrow(0, static_cast<int64_t>(i), 1).item());
}

void Adam::step() {
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor g = gradient_to_apply(p);
    if (!g.defined()) continue;
    if (exp_avg_[i].device() != p.device()) {  // the module moved (Module::to) after this optimiser was built
      exp_avg_[i] = exp_avg_[i].to(p.device());
      exp_avg_sq_[i] = exp_avg_sq_[i].to(p.device());
    }
    if (steps_.device() != p.device()) steps_ = steps_.to(p.device());
    // The update of the header, one fused pass per tensor (cpu/optim.cpp, cuda/optim.cu);
    // it adds one to this parameter's step count first.
    kernels_for(p).adam_step(p, g, exp_avg_[i], exp_avg_sq_[i], steps_.narrow(0, static_cast<int64_t>(i), 1),
                             lr_on(p.device()), options_.beta1, options_.beta2, options_.eps, options_.weight_decay,
                             options_.decoupled_weight_decay);
    p.storage().bump_version();
    steps_.storage().bump_version();  // the kernel counted in it
  }
}

std::map<std::string, Tensor> Adam::state_dict() const {
  std::map<std::string, Tensor> out{{"steps", steps_}};
  for (std::size_t i = 0; i < params_.size(); ++i) {
    out[str(i, ".exp_avg")] = exp_avg_[i];
    out[str(i, ".exp_avg_sq")] = exp_avg_sq_[i];
  }
  return out;
}

void Adam::load_state_dict(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> own = state_dict();
  load_into("Adam", own, state);
}

}  // namespace sg
