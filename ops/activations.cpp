// Activation functions. Where the derivative is cheaper from the output (sigmoid,
// tanh) the output is saved; otherwise the input.
#include "ops/activations.h"

#include "core/autograd.h"
#include "ops/elementwise.h"

namespace sg {

// y = max(x, 0)                 dx = g * [x > 0]
Tensor relu(const Tensor& x) {
  Tensor y = map_unary(x, fn::Relu{}, "relu");
  return record("relu", {x}, y, [saved_x = save(x, "relu")](const Tensor& g, const std::vector<bool>&) {
    return TensorList{map_binary(g, saved_x.get(), fn::ReluGrad{}, "relu_backward")};
  });
}

// y = x if x > 0 else slope*x    dx = g * (1 if x > 0 else slope)
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  Tensor y = map_unary(x, fn::LeakyRelu{negative_slope}, "leaky_relu");
  return record("leaky_relu", {x}, y,
                [saved_x = save(x, "leaky_relu"), negative_slope](const Tensor& g, const std::vector<bool>&) {
                  return TensorList{map_binary(g, saved_x.get(), fn::LeakyReluGrad{negative_slope}, "leaky_relu_backward")};
                });
}

// y = 1 / (1 + e^-x)            dx = g * y * (1 - y)
Tensor sigmoid(const Tensor& x) {
  Tensor y = map_unary(x, fn::Sigmoid{}, "sigmoid");
  return record("sigmoid", {x}, y, [saved_y = save(y, "sigmoid")](const Tensor& g, const std::vector<bool>&) {
    return TensorList{map_binary(g, saved_y.get(), fn::SigmoidGrad{}, "sigmoid_backward")};
  });
}

// y = tanh(x)                   dx = g * (1 - y^2)
Tensor tanh(const Tensor& x) {
  Tensor y = map_unary(x, fn::Tanh{}, "tanh");
  return record("tanh", {x}, y, [saved_y = save(y, "tanh")](const Tensor& g, const std::vector<bool>&) {
    return TensorList{map_binary(g, saved_y.get(), fn::TanhGrad{}, "tanh_backward")};
  });
}

// y = log(1 + e^(beta x)) / beta   dx = g * sigmoid(beta x)
Tensor softplus(const Tensor& x, double beta, double threshold) {
  SG_CHECK(beta > 0, "softplus: expected beta > 0, got ", beta);
  Tensor y = map_unary(x, fn::Softplus{beta, threshold}, "softplus");
  return record("softplus", {x}, y,
                [saved_x = save(x, "softplus"), beta, threshold](const Tensor& g, const std::vector<bool>&) {
                  return TensorList{map_binary(g, saved_x.get(), fn::SoftplusGrad{beta, threshold}, "softplus_backward")};
                });
}

}  // namespace sg
