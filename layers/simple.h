#pragma once
// Parameter-free layers: activations, reshaping, dropout, pooling.
#include "core/generator.h"
#include "layers/module.h"
#include "ops/ops.h"

namespace sg {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
  std::string type_name() const override { return "ReLU"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string type_name() const override { return "LeakyReLU"; }
  std::string settings() const override { return str("negative_slope=", negative_slope); }
  const double negative_slope;
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override { return tanh(x); }
  std::string type_name() const override { return "Tanh"; }
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
  std::string type_name() const override { return "Sigmoid"; }
};

// (N, d1, d2, ...) -> (N, d1*d2*...)
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x.flatten(1); }
  std::string type_name() const override { return "Flatten"; }
};

// (N, ...) -> (N, shape...)
class Reshape : public Module {
 public:
  explicit Reshape(Shape shape) : shape(std::move(shape)) {}
  Tensor forward(const Tensor& x) override {
    Shape full{x.shape().empty() ? 1 : x.shape()[0]};
    full.insert(full.end(), shape.begin(), shape.end());
    return x.reshape(full);
  }
  std::string type_name() const override { return "Reshape"; }
  std::string settings() const override { return shape_str(shape); }
  const Shape shape;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator& gen = default_generator()) : p(p), gen_(&gen) {
    SG_CHECK(p >= 0 && p < 1, "Dropout: expected a probability in [0, 1), got ", p);
  }
  Tensor forward(const Tensor& x) override { return dropout(x, p, is_training(), *gen_); }
  std::string type_name() const override { return "Dropout"; }
  std::string settings() const override { return str("p=", p); }
  const double p;

 private:
  Generator* gen_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = -1, int64_t padding = 0)
      : kernel(kernel), stride(stride < 0 ? kernel : stride), padding(padding) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, kernel, stride, padding); }
  std::string type_name() const override { return "MaxPool2d"; }
  std::string settings() const override { return str("kernel=", kernel, ", stride=", stride, ", padding=", padding); }
  const int64_t kernel, stride, padding;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = -1, int64_t padding = 0)
      : kernel(kernel), stride(stride < 0 ? kernel : stride), padding(padding) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, kernel, stride, padding); }
  std::string type_name() const override { return "AvgPool2d"; }
  std::string settings() const override { return str("kernel=", kernel, ", stride=", stride, ", padding=", padding); }
  const int64_t kernel, stride, padding;
};

}  // namespace sg
