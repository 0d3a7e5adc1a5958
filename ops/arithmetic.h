#pragma once
// add, sub, mul, div, neg, pow: the arithmetic ops, with NumPy broadcasting.
// Scalar math is in the functors (shared with the CUDA kernels); the ops and their
// backward passes are in ops/arithmetic.cpp.
#include <cmath>

#include "ops/elementwise.h"

namespace sg {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);

// A scalar operand becomes a 0-d tensor of the other operand's dtype and device.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

namespace fn {
struct Add { template <class T> SG_HD T operator()(T a, T b) const { return a + b; } };
struct Sub { template <class T> SG_HD T operator()(T a, T b) const { return a - b; } };
struct Mul { template <class T> SG_HD T operator()(T a, T b) const { return a * b; } };
struct Div { template <class T> SG_HD T operator()(T a, T b) const { return a / b; } };
struct Neg { template <class T> SG_HD T operator()(T x) const { return -x; } };
struct Scale {
  double factor;
  template <class T> SG_HD T operator()(T x) const { return x * static_cast<T>(factor); }
};
// a + alpha b (add_ with a scale, and the optimisers' building block)
struct AddScaled {
  double alpha;
  template <class T> SG_HD T operator()(T a, T b) const { return a + static_cast<T>(alpha) * b; }
};
// d(a/b)/db = -a/b^2, written from the output y = a/b as -y/b.
struct DivGradDenominator { template <class T> SG_HD T operator()(T y, T b) const { return -y / b; } };
struct Pow {
  double exponent;
  template <class T> SG_HD T operator()(T x) const { return std::pow(x, static_cast<T>(exponent)); }
};
// d(x^p)/dx = p * x^(p-1), times the upstream gradient g.
struct PowGrad {
  double exponent;
  template <class T> SG_HD T operator()(T g, T x) const {
    if (exponent == 0) return T(0);
    return g * static_cast<T>(exponent) * std::pow(x, static_cast<T>(exponent - 1));
  }
};
}  // namespace fn

}  // namespace sg
