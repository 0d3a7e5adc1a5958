// The synchronised batch norm's computation (batch_norm_over_ranks) checked on its own, on a
// job of one process made just for these tests, so that every rank can run them alone:
// gradcheck in float64, and the fused batch_norm (itself gradchecked, tests/op_cases.h) as
// the reference for values and gradients. On one rank sync_batch_norm itself takes the fused
// op, so without these the composed graph would be checked only under mpirun.
#include <doctest/doctest.h>

#include <cmath>

#include "core/autograd.h"
#include "core/generator.h"
#include "distributed/backends.h"
#include "distributed/sync_batch_norm.h"
#include "ops/ops.h"
#include "tools/gradcheck.h"

using namespace sg;
using namespace sg::dist;

namespace {

std::shared_ptr<Communicator> alone() { return dist::detail::make_single_process_communicator(); }

double max_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

}  // namespace

TEST_CASE("batch norm over ranks passes gradcheck in float64 for input, weight and bias") {
  Generator gen(21);
  for (const Shape& shape : {Shape{5, 3}, Shape{3, 2, 2, 3}}) {
    CAPTURE(shape_str(shape));
    const int64_t channels = shape[1];
    std::vector<Tensor> inputs = {randn(shape, gen, {DType::Float64}) * 1.5 + 0.3,
                                  randn({channels}, gen, {DType::Float64}) + 1.0, randn({channels}, gen, {DType::Float64})};
    for (Tensor& t : inputs) t.requires_grad_(true);
    auto f = [](const std::vector<Tensor>& in) {
      return batch_norm_over_ranks(in[0], Tensor(), Tensor(), in[1], in[2], 0.1, 1e-5, alone());
    };
    const GradcheckResult result = gradcheck(f, inputs, {.input_names = {"x", "weight", "bias"}});
    CHECK_MESSAGE(result.passed, result.report);
  }
}

TEST_CASE("on one process, batch norm over ranks equals batch_norm: output, running statistics, gradients") {
  Generator gen(22);
  Tensor x = (randn({4, 3, 2, 2}, gen, {DType::Float64}) * 2.0 + 0.5).requires_grad_(true);
  Tensor weight = (randn({3}, gen, {DType::Float64}) + 1.0).requires_grad_(true);
  Tensor bias = randn({3}, gen, {DType::Float64}).requires_grad_(true);
  Tensor upstream = randn({4, 3, 2, 2}, gen, {DType::Float64});  // not all ones: every term of the backward counts
  Tensor mean_a = zeros({3}, {DType::Float64}), var_a = ones({3}, {DType::Float64});
  Tensor mean_b = zeros({3}, {DType::Float64}), var_b = ones({3}, {DType::Float64});

  Tensor composed = batch_norm_over_ranks(x, mean_a, var_a, weight, bias, 0.1, 1e-5, alone());
  const TensorList composed_grads = grad(composed, {x, weight, bias}, upstream);
  Tensor fused = batch_norm(x, mean_b, var_b, weight, bias, true, 0.1, 1e-5);
  const TensorList fused_grads = grad(fused, {x, weight, bias}, upstream);

  CHECK(max_difference(composed, fused) <= 1e-12);
  CHECK(max_difference(mean_a, mean_b) <= 1e-14);
  CHECK(max_difference(var_a, var_b) <= 1e-14);
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(max_difference(composed_grads[i], fused_grads[i]) <= 1e-12);
  }
}
