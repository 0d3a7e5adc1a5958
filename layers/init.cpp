#include "layers/init.h"

#include <cmath>

#include "core/autograd.h"

namespace sg::init {

Fans fans(const Tensor& w) {
  SG_CHECK(w.dim() >= 2, "init: fan-in/fan-out need a weight with at least 2 dims, got ", shape_str(w.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.shape()[static_cast<std::size_t>(d)];
  return {w.shape()[1] * receptive, w.shape()[0] * receptive};
}

namespace {
void assign(Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  t.copy_(values);
}
double leaky_gain(double a) { return std::sqrt(2.0 / (1.0 + a * a)); }
}  // namespace

void uniform_(Tensor& t, double low, double high, Generator& gen) {
  assign(t, uniform(t.shape(), low, high, gen, {t.dtype(), Device::cpu(), false}));
}

void normal_(Tensor& t, double mean, double stddev, Generator& gen) {
  assign(t, normal(t.shape(), mean, stddev, gen, {t.dtype(), Device::cpu(), false}));
}

void constant_(Tensor& t, double value) {
  NoGradGuard no_grad;
  t.fill_(value);
}

void xavier_uniform_(Tensor& t, double gain, Generator& gen) {
  Fans f = fans(t);
  double a = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  uniform_(t, -a, a, gen);
}

void xavier_normal_(Tensor& t, double gain, Generator& gen) {
  Fans f = fans(t);
  normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out)), gen);
}

void kaiming_uniform_(Tensor& t, double a, Generator& gen) {
  double bound = leaky_gain(a) * std::sqrt(3.0 / static_cast<double>(fans(t).fan_in));
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, double a, Generator& gen) {
  normal_(t, 0.0, leaky_gain(a) / std::sqrt(static_cast<double>(fans(t).fan_in)), gen);
}

}  // namespace sg::init
