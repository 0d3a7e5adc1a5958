#include "ops/dropout.h"

#include <vector>

#include "ops/arithmetic.h"

namespace sg {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  SG_CHECK(p >= 0 && p < 1, "dropout: expected a probability in [0, 1), got ", p);
  if (!training || p == 0) return x;
  std::vector<double> mask(static_cast<std::size_t>(x.numel()));
  const double keep_scale = 1.0 / (1.0 - p);
  for (double& m : mask) m = gen.uniform() < p ? 0.0 : keep_scale;
  return mul(x, from_vector(mask, x.shape(), {x.dtype(), x.device(), false}));
}

}  // namespace sg
