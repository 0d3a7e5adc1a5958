#pragma once
// Module: a layer or a network of layers, with named parameters (trainable tensors),
// named buffers (state that is saved but not trained, e.g. running statistics) and
// named child modules. Names nest with dots: "0.weight", "block.1.running_mean".
//
// Layers read their parameters through param(name). That one indirection lets a
// Parametrization (spectral normalisation, for one) stand between the trainable
// tensor and the layer's computation without the layer's code changing:
//   trainable tensor --raw_param--> Parametrization::apply --param--> layer forward
// A Linear layer asks its weight's parametrization for the whole product instead
// (apply_linear): by default linear(x, apply(W), b), but a parametrization may compute it
// without writing the parametrized weight out (spectral normalisation: 1/sigma in the GEMM).
#include <list>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace sg {

class Module;

// Replaces a parameter by a function of it each time a layer reads it.
class Parametrization {
 public:
  virtual ~Parametrization() = default;
  // The tensor the layer computes with, given the trainable original.
  virtual Tensor apply(Module& owner, const Tensor& original) = 0;
  // x apply(original)^T + bias, as a Linear layer computes it (bias may be undefined).
  virtual Tensor apply_linear(Module& owner, const Tensor& x, const Tensor& original, const Tensor& bias);
  virtual std::string describe() const = 0;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  virtual std::string type_name() const = 0;
  // One line of settings for printing, e.g. "in=784, out=512, bias=true".
  virtual std::string settings() const { return ""; }

  // --- parameters through the indirection -------------------------------------
  Tensor param(const std::string& name);            // what the layer computes with
  Tensor& raw_param(const std::string& name);       // the trainable tensor itself
  bool has_param(const std::string& name) const;
  void set_parametrization(const std::string& name, std::shared_ptr<Parametrization> p);
  std::shared_ptr<Parametrization> parametrization(const std::string& name) const;  // null if none
  void remove_parametrization(const std::string& name);
  const std::map<std::string, std::shared_ptr<Parametrization>>& parametrizations() const { return parametrizations_; }

  // --- registration ---------------------------------------------------------------
  Tensor& register_parameter(const std::string& name, Tensor value);  // sets requires_grad
  Tensor& register_buffer(const std::string& name, Tensor value);
  void remove_parameter(const std::string& name);
  Tensor& buffer(const std::string& name);
  bool has_buffer(const std::string& name) const;
  void remove_buffer(const std::string& name);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // --- the tree -------------------------------------------------------------------------
  std::vector<Tensor> parameters() const;  // trainable tensors of this module and all below
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // Puts `module` in the place of the child called `name` (e.g. to swap a layer for a
  // variant of it, as distributed/sync_batch_norm.h does); an unknown name is an error.
  void replace_child(const std::string& name, std::shared_ptr<Module> module);
  // This module and every module below it, with dotted names ("" for this one).
  std::vector<std::pair<std::string, Module*>> named_modules();

  // Parameters and buffers by dotted name. load_state_dict copies values into the
  // existing tensors (so optimisers keep their references); with strict, missing or
  // unexpected keys and shape mismatches are errors that list them.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  // Sets requires_grad on every parameter of this module and below (PyTorch's
  // Module.requires_grad_). false freezes them: a backward through the module still
  // passes gradients on to its inputs but computes none for its parameters (a GAN's G
  // step through a frozen D skips D's weight-gradient products). An optimiser may be built
  // before or after: it skips a frozen parameter until it is unfrozen (optim/optimizer.h).
  Module& requires_grad_(bool requires_grad = true);
  // Moves every parameter and buffer to `device` in place (the Tensor handles stay the
  // same, so build optimisers after this call or before, either works). A tensor that moves
  // loses its .grad; one already on `device` keeps it.
  void to(Device device);

  // An indented tree of the modules with their settings and parameter counts.
  void print(std::ostream& os, int indent = 0) const;

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> module);

 private:
  // Lists: the references register_parameter/register_buffer return stay valid.
  std::list<std::pair<std::string, Tensor>> parameters_;
  std::list<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::map<std::string, std::shared_ptr<Parametrization>> parametrizations_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace sg
