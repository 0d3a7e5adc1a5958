#pragma once
// Optimisers update a list of parameters from their .grad. They know nothing of
// layers: give them module.parameters() or any tensors that require grad.
//
// Each parameter's update is one fused pass over contiguous memory (no temporary
// tensors, no graph). Parameters without a gradient are skipped.
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sg {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  const std::vector<Tensor>& params() const { return params_; }

  double lr() const { return lr_; }
  void set_lr(double lr);

  // Per-parameter state as tensors named "<index>.<what>", e.g. "0.exp_avg".
  virtual std::map<std::string, Tensor> state_dict() const = 0;
  // Strict: the same keys and shapes as this optimiser's own state.
  virtual void load_state_dict(const std::map<std::string, Tensor>& state) = 0;

 protected:
  // Copies `state` into `own`, checking keys and shapes; names the optimiser in errors.
  static void load_into(const char* optimizer, std::map<std::string, Tensor>& own,
                        const std::map<std::string, Tensor>& state);
  std::vector<Tensor> params_;
  double lr_ = 1e-3;
};

}  // namespace sg
