#include "layers/conv.h"

#include <cmath>

#include "layers/init.h"
#include "ops/conv.h"

namespace sg {

namespace {
void init_conv(Module& m, const Shape& weight_shape, int64_t bias_size, bool bias, Generator& gen, DType dtype) {
  for (int64_t s : weight_shape) SG_CHECK(s > 0, m.type_name(), ": expected positive sizes, got weight shape ",
                                          shape_str(weight_shape));
  Tensor& w = m.register_parameter("weight", empty(weight_shape, {dtype}));
  const double bound = 1.0 / std::sqrt(static_cast<double>(init::fans(w).fan_in));
  init::uniform_(w, -bound, bound, gen);
  if (bias) init::uniform_(m.register_parameter("bias", empty({bias_size}, {dtype})), -bound, bound, gen);
}
std::string conv_settings(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, bool bias) {
  return str("in=", in, ", out=", out, ", kernel=", k, ", stride=", s, ", padding=", p, ", bias=",
             bias ? "true" : "false");
}
}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, bool bias, Generator& gen, DType dtype)
    : in_channels(in), out_channels(out), kernel(k), stride(s), padding(p) {
  init_conv(*this, {out, in, k, k}, out, bias, gen, dtype);
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, param("weight"), has_param("bias") ? param("bias") : Tensor(), stride, padding);
}

std::string Conv2d::settings() const {
  return conv_settings(in_channels, out_channels, kernel, stride, padding, has_param("bias"));
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, bool bias, Generator& gen,
                                 DType dtype)
    : in_channels(in), out_channels(out), kernel(k), stride(s), padding(p) {
  init_conv(*this, {in, out, k, k}, out, bias, gen, dtype);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, param("weight"), has_param("bias") ? param("bias") : Tensor(), stride, padding);
}

std::string ConvTranspose2d::settings() const {
  return conv_settings(in_channels, out_channels, kernel, stride, padding, has_param("bias"));
}

}  // namespace sg
