#pragma once
// Adam (Kingma & Ba) and AdamW (decoupled weight decay), as PyTorch. At step t:
//   Adam:  g = grad + weight_decay * p          AdamW: p *= 1 - lr * weight_decay; g = grad
//   m = beta1 m + (1 - beta1) g
//   v = beta2 v + (1 - beta2) g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#include "optim/optimizer.h"

namespace sg {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // true: AdamW
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  void step() override;
  std::map<std::string, Tensor> state_dict() const override;
  void load_state_dict(const std::map<std::string, Tensor>& state) override;
  const AdamOptions& options() const { return options_; }
  int64_t steps(std::size_t param_index) const;

 private:
  AdamOptions options_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
  Tensor steps_;  // int64, one step count per parameter (a parameter without grad does not step)
};

// AdamW: Adam with decoupled weight decay (default 1e-2, as PyTorch).
inline Adam AdamW(std::vector<Tensor> params, AdamOptions options = {.lr = 1e-3, .weight_decay = 1e-2}) {
  options.decoupled_weight_decay = true;
  return Adam(std::move(params), options);
}

}  // namespace sg
