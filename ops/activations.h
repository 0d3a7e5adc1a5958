#pragma once
// relu, leaky_relu, sigmoid, tanh, softplus. Backward passes: ops/activations.cpp.
#include <cmath>

#include "ops/elementwise.h"

namespace sg {

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (as PyTorch).
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);

namespace fn {
struct Relu { template <class T> SG_HD T operator()(T x) const { return x > T(0) ? x : T(0); } };
// Gradient 0 at x = 0, as PyTorch.
struct ReluGrad { template <class T> SG_HD T operator()(T g, T x) const { return x > T(0) ? g : T(0); } };
struct LeakyRelu {
  double slope;
  template <class T> SG_HD T operator()(T x) const { return x > T(0) ? x : x * static_cast<T>(slope); }
};
struct LeakyReluGrad {
  double slope;
  template <class T> SG_HD T operator()(T g, T x) const { return x > T(0) ? g : g * static_cast<T>(slope); }
};
// Two branches so that exp never overflows: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below.
struct Sigmoid {
  template <class T> SG_HD T operator()(T x) const {
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    T e = std::exp(x);
    return e / (T(1) + e);
  }
};
// d sigmoid = y (1 - y), from the output y.
struct SigmoidGrad { template <class T> SG_HD T operator()(T g, T y) const { return g * y * (T(1) - y); } };
struct Tanh { template <class T> SG_HD T operator()(T x) const { return std::tanh(x); } };
// d tanh = 1 - y^2, from the output y.
struct TanhGrad { template <class T> SG_HD T operator()(T g, T y) const { return g * (T(1) - y * y); } };
struct Softplus {
  double beta, threshold;
  template <class T> SG_HD T operator()(T x) const {
    T bx = static_cast<T>(beta) * x;
    if (bx > static_cast<T>(threshold)) return x;
    // log(1 + e^bx) = max(bx, 0) + log1p(e^-|bx|), stable for large |bx|.
    return (std::fmax(bx, T(0)) + std::log1p(std::exp(-std::fabs(bx)))) / static_cast<T>(beta);
  }
};
// d softplus = sigmoid(beta x), and 1 in the linear region.
struct SoftplusGrad {
  double beta, threshold;
  template <class T> SG_HD T operator()(T g, T x) const {
    T bx = static_cast<T>(beta) * x;
    if (bx > static_cast<T>(threshold)) return g;
    return g * Sigmoid{}(bx);
  }
};
}  // namespace fn

}  // namespace sg
