#pragma once
// Weight initialisers (in place, without recording a graph), with the fan-in/fan-out
// convention of PyTorch: for a weight of shape (a, b, k...), fan_in = b * prod(k) and
// fan_out = a * prod(k).
#include "core/generator.h"
#include "core/tensor.h"

namespace sg::init {

struct Fans {
  int64_t fan_in, fan_out;
};
Fans fans(const Tensor& weight);

void uniform_(Tensor& t, double low, double high, Generator& gen = default_generator());
void normal_(Tensor& t, double mean, double stddev, Generator& gen = default_generator());
void constant_(Tensor& t, double value);
// U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))
void xavier_uniform_(Tensor& t, double gain = 1.0, Generator& gen = default_generator());
// N(0, gain^2 * 2 / (fan_in + fan_out))
void xavier_normal_(Tensor& t, double gain = 1.0, Generator& gen = default_generator());
// U(-b, b) with b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)) (leaky ReLU slope a)
void kaiming_uniform_(Tensor& t, double a = 0.0, Generator& gen = default_generator());
// N(0, gain^2 / fan_in), gain as above
void kaiming_normal_(Tensor& t, double a = 0.0, Generator& gen = default_generator());

}  // namespace sg::init
