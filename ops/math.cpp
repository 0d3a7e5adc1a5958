// Pointwise math. Each backward multiplies g = dL/d(out) by the local derivative.
#include "ops/math.h"

#include "core/autograd.h"
#include "ops/arithmetic.h"
#include "ops/elementwise.h"

namespace sg {

// y = e^x              dx = g * y
Tensor exp(const Tensor& x) {
  Tensor y = map_unary(x, fn::Exp{}, "exp");
  return record("exp", {x}, y, [saved_y = save(y, "exp")](const Tensor& g, const std::vector<bool>&) {
    return TensorList{mul(g, saved_y.get())};
  });
}

// y = ln x             dx = g / x
Tensor log(const Tensor& x) {
  Tensor y = map_unary(x, fn::Log{}, "log");
  return record("log", {x}, y, [saved_x = save(x, "log")](const Tensor& g, const std::vector<bool>&) {
    return TensorList{div(g, saved_x.get())};
  });
}

// y = sqrt(x)          dx = g / (2y)
Tensor sqrt(const Tensor& x) {
  Tensor y = map_unary(x, fn::Sqrt{}, "sqrt");
  return record("sqrt", {x}, y, [saved_y = save(y, "sqrt")](const Tensor& g, const std::vector<bool>&) {
    return TensorList{map_binary(g, saved_y.get(), fn::SqrtGrad{}, "sqrt_backward")};
  });
}

// y = |x|              dx = g * sign(x)
Tensor abs(const Tensor& x) {
  Tensor y = map_unary(x, fn::Abs{}, "abs");
  return record("abs", {x}, y, [saved_x = save(x, "abs")](const Tensor& g, const std::vector<bool>&) {
    return TensorList{map_binary(g, saved_x.get(), fn::AbsGrad{}, "abs_backward")};
  });
}

// y = min(max(x, lo), hi)   dx = g where lo <= x <= hi, else 0
Tensor clamp(const Tensor& x, double min_value, double max_value) {
  SG_CHECK(!(min_value > max_value), "clamp: expected min <= max, got min=", min_value, " max=", max_value);
  Tensor y = map_unary(x, fn::Clamp{min_value, max_value}, "clamp");
  return record("clamp", {x}, y,
                [saved_x = save(x, "clamp"), min_value, max_value](const Tensor& g, const std::vector<bool>&) {
                  return TensorList{map_binary(g, saved_x.get(), fn::ClampGrad{min_value, max_value}, "clamp_backward")};
                });
}

}  // namespace sg
