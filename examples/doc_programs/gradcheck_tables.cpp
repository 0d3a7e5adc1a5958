// docs/autograd.md section 7, "The per-input table": this file is the program shown there,
// and build/examples/gradcheck_tables prints the output the page shows.
#include <iostream>

#include "ops/ops.h"
#include "tools/gradcheck.h"

using namespace sg;

// y = a * b^2 with a hand-written backward. dy/db is 2ab; with forgot_factor_2 the
// backward returns ab instead, a typical slip.
Tensor a_times_b_squared(const Tensor& a, const Tensor& b, bool forgot_factor_2) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = mul(a, mul(b, b));
  }
  return record("a_times_b_squared", {a, b}, y,
                [sa = save(a, "a_times_b_squared"), sb = save(b, "a_times_b_squared"), forgot_factor_2](
                    const Tensor& g, const std::vector<bool>&) {
                  Tensor ab = g * sa.get() * sb.get();
                  return TensorList{g * sb.get() * sb.get(), forgot_factor_2 ? ab : ab * 2.0};
                });
}

GradcheckFunction checked(bool forgot_factor_2) {
  return [forgot_factor_2](const TensorList& in) { return a_times_b_squared(in[0], in[1], forgot_factor_2); };
}

int main() {
  Generator gen(42);
  Tensor a = uniform({2, 3}, -1, 1, gen, {DType::Float64, Device::cpu(), true});
  Tensor b = uniform({2, 3}, -1, 1, gen, {DType::Float64, Device::cpu(), true});
  GradcheckOptions options;
  options.input_names = {"a", "b"};
  std::cout << gradcheck(checked(true), {a, b}, options).report << "\n\n";  // the first mismatch, then the table
  std::cout << gradcheck_table(gradcheck(checked(false), {a, b}, options)) << "\n\n";  // a pass has a table too
  options.fast_mode = true;
  std::cout << gradcheck(checked(true), {a, b}, options).report << "\n";
}
