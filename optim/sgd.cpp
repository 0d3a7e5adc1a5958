#include "optim/sgd.h"

#include "core/autograd.h"
#include "kernels/kernels.h"

namespace sg {

SGD::SGD(std::vector<Tensor> params, SGDOptions options) : Optimizer(std::move(params)), options_(options) {
  SG_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0,
           "SGD: expected lr, momentum and weight_decay >= 0, got lr=", options.lr, " momentum=", options.momentum,
           " weight_decay=", options.weight_decay);
  SG_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
           "SGD: Nesterov momentum needs momentum > 0 and dampening 0");
  set_lr(options.lr);
  for (const Tensor& p : params_) momentum_buffers_.push_back(zeros_like(p));
  started_ = zeros({static_cast<int64_t>(params_.size())}, {DType::Int64});
}

void SGD::step() {
  NoGradGuard no_grad;
  int64_t* started = started_.data<int64_t>();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor g = gradient_to_apply(p);
    if (!g.defined()) continue;
    if (momentum_buffers_[i].device() != p.device()) momentum_buffers_[i] = momentum_buffers_[i].to(p.device());
    const bool first = started[i] == 0;
    started[i] = 1;
    // The update of the header, one fused pass per tensor (cpu/optim.cpp, cuda/optim.cu).
    kernels_for(p).sgd_step(p, g, momentum_buffers_[i], lr_on(p.device()), options_.momentum, options_.dampening,
                            options_.weight_decay, options_.nesterov, first);
    p.storage().bump_version();
  }
}

std::map<std::string, Tensor> SGD::state_dict() const {
  std::map<std::string, Tensor> out{{"started", started_}};
  for (std::size_t i = 0; i < params_.size(); ++i) out[str(i, ".momentum_buffer")] = momentum_buffers_[i];
  return out;
}

void SGD::load_state_dict(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> own = state_dict();
  load_into("SGD", own, state);
}

}  // namespace sg
