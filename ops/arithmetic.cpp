// Arithmetic ops. Each backward receives g = dL/d(out) and returns dL/d(input) for
// every input; sum_to_shape folds a broadcast gradient back to the input's shape.
#include "ops/arithmetic.h"

#include "core/autograd.h"
#include "ops/reduce.h"
#include "ops/elementwise.h"

namespace sg {

// out = a + b          da = g, db = g
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary(a, b, fn::Add{}, "add");
  Shape a_shape = a.shape(), b_shape = b.shape();
  return record("add", {a, b}, out, [a_shape, b_shape](const Tensor& g, const std::vector<bool>&) {
    return TensorList{sum_to_shape(g, a_shape), sum_to_shape(g, b_shape)};
  });
}

// out = a - b          da = g, db = -g
Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary(a, b, fn::Sub{}, "sub");
  Shape a_shape = a.shape(), b_shape = b.shape();
  return record("sub", {a, b}, out, [a_shape, b_shape](const Tensor& g, const std::vector<bool>& needs) {
    return TensorList{sum_to_shape(g, a_shape), needs[1] ? sum_to_shape(neg(g), b_shape) : Tensor()};
  });
}

// out = a * b          da = g * b, db = g * a
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary(a, b, fn::Mul{}, "mul");
  return record("mul", {a, b}, out,
                [saved_a = save(a, "mul"), saved_b = save(b, "mul")](const Tensor& g,
                                                                    const std::vector<bool>& needs) {
                  const Tensor& a = saved_a.get();
                  const Tensor& b = saved_b.get();
                  return TensorList{needs[0] ? sum_to_shape(mul(g, b), a.shape()) : Tensor(),
                                    needs[1] ? sum_to_shape(mul(g, a), b.shape()) : Tensor()};
                });
}

// out = a / b          da = g / b, db = -g * out / b
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary(a, b, fn::Div{}, "div");
  return record("div", {a, b}, out,
                [saved_out = save(out, "div"), saved_b = save(b, "div"), a_shape = a.shape()](
                    const Tensor& g, const std::vector<bool>& needs) {
                  const Tensor& b = saved_b.get();
                  Tensor da = needs[0] ? sum_to_shape(div(g, b), a_shape) : Tensor();
                  Tensor db = needs[1] ? sum_to_shape(
                                             mul(g, map_binary(saved_out.get(), b, fn::DivGradDenominator{}, "div")),
                                             b.shape())
                                       : Tensor();
                  return TensorList{da, db};
                });
}

// out = -x             dx = -g
Tensor neg(const Tensor& x) {
  Tensor out = map_unary(x, fn::Neg{}, "neg");
  return record("neg", {x}, out, [](const Tensor& g, const std::vector<bool>&) { return TensorList{neg(g)}; });
}

// out = x^p            dx = g * p * x^(p-1)
Tensor pow(const Tensor& x, double exponent) {
  Tensor out = map_unary(x, fn::Pow{exponent}, "pow");
  return record("pow", {x}, out, [saved_x = save(x, "pow"), exponent](const Tensor& g, const std::vector<bool>&) {
    return TensorList{map_binary(g, saved_x.get(), fn::PowGrad{exponent}, "pow_backward")};
  });
}

// ---- operators -------------------------------------------------------------------------
namespace {
Tensor scalar_like(double value, const Tensor& like) {
  return scalar_tensor(value, {like.dtype(), like.device(), false});
}
}  // namespace

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

}  // namespace sg
