#pragma once
// SGD with momentum, dampening, Nesterov and L2 weight decay, as PyTorch:
//   d = grad + weight_decay * p
//   buf = momentum * buf + (1 - dampening) * d      (buf = d on the first step)
//   d = nesterov ? d + momentum * buf : buf          (when momentum > 0)
//   p -= lr * d
#include "optim/optimizer.h"

namespace sg {

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options = {});
  void step() override;
  std::map<std::string, Tensor> state_dict() const override;
  void load_state_dict(const std::map<std::string, Tensor>& state) override;
  const SGDOptions& options() const { return options_; }

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_buffers_;
  Tensor started_;  // int64 per parameter: 1 once its momentum buffer holds a value
};

}  // namespace sg
