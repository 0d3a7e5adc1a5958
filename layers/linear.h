#pragma once
// Linear: y = x W^T + b, x of shape (N, in), W (out, in), b (out).
// Initialisation as PyTorch: W and b ~ U(-1/sqrt(in), 1/sqrt(in)).
#include "core/generator.h"
#include "layers/module.h"

namespace sg {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& gen = default_generator(),
         DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string settings() const override;

  const int64_t in_features, out_features;
};

}  // namespace sg
