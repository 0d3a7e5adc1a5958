#include "layers/linear.h"

#include <cmath>

#include "layers/init.h"
#include "ops/ops.h"

namespace sg {

Linear::Linear(int64_t in, int64_t out, bool bias, Generator& gen, DType dtype)
    : in_features(in), out_features(out) {
  SG_CHECK(in > 0 && out > 0, "Linear: expected positive sizes, got in=", in, " out=", out);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  // kaiming_uniform with a = sqrt(5), PyTorch's default, reduces to U(-1/sqrt(in), 1/sqrt(in)).
  Tensor& w = register_parameter("weight", empty({out, in}, {dtype}));
  init::uniform_(w, -bound, bound, gen);
  if (bias) init::uniform_(register_parameter("bias", empty({out}, {dtype})), -bound, bound, gen);
}

Tensor Linear::forward(const Tensor& x) {
  SG_CHECK(x.dim() == 2 && x.shape()[1] == in_features, "Linear(", in_features, " -> ", out_features,
           "): expected input of shape (N, ", in_features, "), got ", shape_str(x.shape()));
  Tensor bias = has_param("bias") ? param("bias") : Tensor();
  // A parametrized weight computes the product itself (spectral norm: 1/sigma in the GEMM).
  if (auto p = parametrization("weight")) return p->apply_linear(*this, x, raw_param("weight"), bias);
  return linear(x, param("weight"), bias);
}

std::string Linear::settings() const {
  return str("in=", in_features, ", out=", out_features, ", bias=", has_param("bias") ? "true" : "false");
}

}  // namespace sg
