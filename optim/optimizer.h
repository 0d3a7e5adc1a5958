#pragma once
// Optimisers update a list of parameters from their .grad. They know nothing of
// layers: give them module.parameters() or any contiguous leaf float tensors.
//
// Each parameter's update is one fused pass over contiguous memory (no temporary
// tensors, no graph). A parameter is skipped while it has no gradient or is frozen
// (requires_grad false, e.g. Module::requires_grad_(false)). A frozen one is accepted,
// as in PyTorch, and steps again once unfrozen; with Adam it keeps its own step count
// meanwhile. Unlike PyTorch, which steps any parameter that holds a .grad, a frozen
// parameter is not stepped even with a .grad left from before it was frozen: frozen
// means unchanged, on every rank alike (distributed/data_parallel.h leaves it out too).
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
  // The learning rate of the next step(). It is kept on the parameters' device too, where
  // the update reads it, so a recorded step (core/captured_step.h) replayed later uses
  // the rate set before each replay. Set it between steps, not inside a recorded one.
  void set_lr(double lr);

  // Per-parameter state as tensors named "<index>.<what>", e.g. "0.exp_avg".
  virtual std::map<std::string, Tensor> state_dict() const = 0;
  // Strict: the same keys and shapes as this optimiser's own state.
  virtual void load_state_dict(const std::map<std::string, Tensor>& state) = 0;

 protected:
  // Copies `state` into `own`, checking keys and shapes; names the optimiser in errors.
  static void load_into(const char* optimizer, std::map<std::string, Tensor>& own,
                        const std::map<std::string, Tensor>& state);
  // The gradient step() applies to `param`, contiguous; undefined when the parameter is
  // skipped (no gradient, or frozen: the header's rule, in this one place).
  static Tensor gradient_to_apply(const Tensor& param);
  // The learning rate as a 1-element float64 tensor on `device` (moved there if the
  // parameters were moved after this optimiser was made), for the update kernels.
  const Tensor& lr_on(Device device);
  std::vector<Tensor> params_;

 private:
  double lr_ = 1e-3;
  Tensor lr_tensor_;
};

}  // namespace sg
