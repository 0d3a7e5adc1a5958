#include "layers/batch_norm.h"

#include "ops/batch_norm.h"

namespace sg {

BatchNorm::BatchNorm(int64_t n, int64_t dims, double m, double e, DType dtype)
    : features(n), input_dims(dims), momentum(m), eps(e) {
  SG_CHECK(n > 0, "BatchNorm: expected a positive number of features, got ", n);
  register_parameter("weight", ones({n}, {dtype}));
  register_parameter("bias", zeros({n}, {dtype}));
  register_buffer("running_mean", zeros({n}, {dtype}));
  register_buffer("running_var", ones({n}, {dtype}));
}

Tensor BatchNorm::forward(const Tensor& x) {
  SG_CHECK(x.dim() == input_dims && x.shape()[1] == features, type_name(), "(", features, "): expected input of shape ",
           input_dims == 2 ? "(N, " : "(N, ", features, input_dims == 2 ? ")" : ", H, W)", ", got ",
           shape_str(x.shape()));
  return batch_norm(x, buffer("running_mean"), buffer("running_var"), param("weight"), param("bias"), is_training(),
                    momentum, eps);
}

std::string BatchNorm::settings() const { return str("features=", features, ", momentum=", momentum, ", eps=", eps); }

}  // namespace sg
