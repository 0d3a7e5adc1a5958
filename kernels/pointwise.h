#pragma once
// The scalar maths of every pointwise op, as small functors that both the CPU loops
// (cpu/elementwise.h) and the CUDA kernels (cuda/elementwise.cu) instantiate, so the two
// devices compute with the very same expressions. Each op file in ops/ says which
// functor its forward and its backward use.
//
// The lists at the bottom are the only place a functor is registered: map_unary and
// map_binary (kernels/kernels.h) are compiled for exactly these, on every build, so an
// op that uses a functor missing from its list fails to link everywhere, with or without
// nvcc.
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/host_device.h"
#include "kernels/fast_math.h"

namespace sg::fn {

// ---- arithmetic (ops/arithmetic.cpp) -------------------------------------------------
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

// ---- math functions (ops/math.cpp) ---------------------------------------------------
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

// ---- activations (ops/activations.cpp) -----------------------------------------------
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
struct Tanh {
  template <class T> SG_HD T operator()(T x) const {
#ifndef __CUDA_ARCH__
    // The CPU's float path: the same function as a loop the compiler vectorises (a libm
    // call per element does not); kernels/fast_math.h, pinned to std::tanh by a test.
    if constexpr (std::is_same_v<T, float>) return fast_math::tanh(x);
#endif
    return std::tanh(x);
  }
};
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

// ---- losses (ops/loss.cpp) -----------------------------------------------------------
struct BceWithLogits {
  template <class T> SG_HD T operator()(T x, T y) const {
    return std::fmax(x, T(0)) - x * y + std::log1p(std::exp(-std::fabs(x)));
  }
};
// d/dx = sigmoid(x) - y
struct BceGradLogits { template <class T> SG_HD T operator()(T x, T y) const { return Sigmoid{}(x) - y; } };

}  // namespace sg::fn

// X(functor) for every unary functor, then every binary one.
#define SG_UNARY_FUNCTORS(X)                                                                      \
  X(fn::Neg) X(fn::Scale) X(fn::Pow) X(fn::Exp) X(fn::Log) X(fn::Sqrt) X(fn::Abs) X(fn::FiniteOrZero) \
  X(fn::Clamp) X(fn::Relu) X(fn::LeakyRelu) X(fn::Sigmoid) X(fn::Tanh) X(fn::Softplus)
#define SG_BINARY_FUNCTORS(X)                                                                      \
  X(fn::Add) X(fn::AddScaled) X(fn::Sub) X(fn::Mul) X(fn::Div) X(fn::DivGradDenominator) X(fn::PowGrad) \
  X(fn::SqrtGrad) X(fn::AbsGrad) X(fn::ClampGrad) X(fn::ReluGrad) X(fn::LeakyReluGrad) X(fn::SigmoidGrad) \
  X(fn::TanhGrad) X(fn::SoftplusGrad) X(fn::BceWithLogits) X(fn::BceGradLogits)
