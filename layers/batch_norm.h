#pragma once
// BatchNorm1d over (N, C) and BatchNorm2d over (N, C, H, W). Defaults as PyTorch:
// weight 1, bias 0, running_mean 0, running_var 1, momentum 0.1, eps 1e-5.
// Training mode normalises with the batch's statistics and updates the running ones;
// eval mode uses the running statistics.
#include "layers/module.h"

namespace sg {

class BatchNorm : public Module {
 public:
  BatchNorm(int64_t features, int64_t input_dims, double momentum = 0.1, double eps = 1e-5,
            DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string settings() const override;
  const int64_t features, input_dims;
  const double momentum, eps;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t features, double momentum = 0.1, double eps = 1e-5, DType dtype = DType::Float32)
      : BatchNorm(features, 2, momentum, eps, dtype) {}
  std::string type_name() const override { return "BatchNorm1d"; }
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t features, double momentum = 0.1, double eps = 1e-5, DType dtype = DType::Float32)
      : BatchNorm(features, 4, momentum, eps, dtype) {}
  std::string type_name() const override { return "BatchNorm2d"; }
};

}  // namespace sg
