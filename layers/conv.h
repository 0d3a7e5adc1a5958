#pragma once
// Conv2d and ConvTranspose2d layers (square kernels, dilation 1, groups 1).
// Initialisation as PyTorch: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) where
// fan_in = weight.shape[1] * k * k: in*k*k for Conv2d, out*k*k for ConvTranspose2d
// (whose weight is (in, out, k, k)).
#include "core/generator.h"
#include "layers/module.h"

namespace sg {

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
         bool bias = true, Generator& gen = default_generator(), DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string settings() const override;
  const int64_t in_channels, out_channels, kernel, stride, padding;
};

class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
                  bool bias = true, Generator& gen = default_generator(), DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string settings() const override;
  const int64_t in_channels, out_channels, kernel, stride, padding;
};

}  // namespace sg
