#pragma once
// exp, log, sqrt, abs, clamp: pointwise functions. Backward passes: ops/math.cpp.
#include <cmath>
#include <limits>

#include "ops/elementwise.h"

namespace sg {

Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
// Limits each element to [min_value, max_value]; use +-infinity for a one-sided clamp.
Tensor clamp(const Tensor& x, double min_value, double max_value);

namespace fn {
struct Exp { template <class T> SG_HD T operator()(T x) const { return std::exp(x); } };
struct Log { template <class T> SG_HD T operator()(T x) const { return std::log(x); } };
struct Sqrt { template <class T> SG_HD T operator()(T x) const { return std::sqrt(x); } };
struct Abs { template <class T> SG_HD T operator()(T x) const { return std::abs(x); } };
// x, or 0 where x is not finite (logsumexp's shift for rows of -inf)
struct FiniteOrZero { template <class T> SG_HD T operator()(T x) const { return std::isfinite(x) ? x : T(0); } };
// d sqrt(x)/dx = 1 / (2 sqrt(x)), from the output y: g / (2y).
struct SqrtGrad { template <class T> SG_HD T operator()(T g, T y) const { return g / (T(2) * y); } };
// d|x|/dx = sign(x); 0 at x = 0 (the subgradient PyTorch picks).
struct AbsGrad {
  template <class T> SG_HD T operator()(T g, T x) const { return x > T(0) ? g : (x < T(0) ? -g : T(0)); }
};
struct Clamp {
  double lo, hi;
  template <class T> SG_HD T operator()(T x) const {
    T y = x < static_cast<T>(lo) ? static_cast<T>(lo) : x;
    return y > static_cast<T>(hi) ? static_cast<T>(hi) : y;
  }
};
// The gradient passes where the input was inside [lo, hi] (boundaries included).
struct ClampGrad {
  double lo, hi;
  template <class T> SG_HD T operator()(T g, T x) const {
    return (x >= static_cast<T>(lo) && x <= static_cast<T>(hi)) ? g : T(0);
  }
};
}  // namespace fn

}  // namespace sg
