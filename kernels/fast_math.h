#pragma once
// Float maths written so that a loop of it vectorises. std::tanh is a call into libm per
// element, which the compiler cannot vectorise without -ffast-math: the MLP-GAN's
// generator spent 7-9% of its CPU iteration in tanhf and expm1f (bench/README.md, issue
// 16). The pointwise functors (kernels/pointwise.h) use these on the CPU's float32 path
// only; float64 and the GPU keep std::tanh. tests/test_fast_paths.cpp pins them to
// std::tanh in double precision.
#include <cstdint>
#include <cstring>

namespace sg::fast_math {

// 2^k for an integer-valued k in [-126, 127], from the float's exponent bits.
inline float exp2_integer(float k) {
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

// k!, exact in float for k <= 13.
constexpr float factorial(int k) { return k <= 1 ? 1.0f : static_cast<float>(k) * factorial(k - 1); }

// sum over k in [First, Last] of x^(k - First) / k!, in Horner form (the bounds are
// constants: the loop unrolls into the chain of multiply-adds, constants folded).
template <int First, int Last>
inline float inverse_factorial_series(float x) {
  float sum = 1.0f / factorial(Last);
  for (int k = Last - 1; k >= First; --k) sum = 1.0f / factorial(k) + x * sum;
  return sum;
}

// e^y - 1 for |y| <= 20, both ways computed and one selected (no branch to stop a loop
// vectorising):
//  - |y| < 1: the Taylor series to y^11 in Horner form (the first term left out,
//    y^12/12!, is at most 2e-9 of the sum; y = -0 gives -0);
//  - otherwise e^y = 2^k e^r, k = round(y / ln 2), r = y - k ln 2 in [-ln2/2, ln2/2] with
//    ln 2 in two parts (Cody and Waite) so that k ln 2 loses nothing, e^r by Taylor to
//    r^7 (0.35^8 / 8! = 6e-9), then minus one, which for |y| >= 1 magnifies the relative
//    error by at most e / (e - 1).
inline float expm1_bounded(float y) {
  const float series = y * inverse_factorial_series<1, 11>(y);  // y + y^2/2! + ... + y^11/11!

  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2High = 0.693145751953125f, kLn2Low = 1.42860682030941723212e-6f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to an integer
  const float k = (y * kLog2e + kRound) - kRound;
  const float r = (y - k * kLn2High) - k * kLn2Low;
  const float exponential = inverse_factorial_series<0, 7>(r) * exp2_integer(k) - 1.0f;  // e^r 2^k - 1

  const float magnitude = y < 0 ? -y : y;
  return magnitude < 1.0f ? series : exponential;
}

// tanh(x) = (e^2x - 1) / (e^2x + 1) = m / (m + 2) with m = expm1(2x), which keeps its
// relative precision near 0 (tanh x ~ x). |x| >= 9 gives +-1 (tanh 9 = 1 - 3e-8 rounds to
// 1 in float); NaN stays NaN; -0 stays -0.
inline float tanh(float x) {
  const bool nan = x != x;
  const float clamped = nan ? 0.0f : (x > 9.0f ? 9.0f : (x < -9.0f ? -9.0f : x));
  const float m = expm1_bounded(2.0f * clamped);
  const float t = m / (m + 2.0f);
  return nan ? x : t;
}

}  // namespace sg::fast_math
