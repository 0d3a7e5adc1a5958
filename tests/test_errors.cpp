// Bad input gets an sg::Error saying what was expected and what was given.
#include <doctest/doctest.h>

#include "ops/ops.h"

using namespace sg;

TEST_CASE("broadcasting mismatches name both shapes") {
  CHECK_THROWS_WITH_AS(add(zeros({2, 3}), zeros({4})), doctest::Contains("[2, 3] and [4]"), Error);
}

TEST_CASE("dtype mismatches name both dtypes") {
  CHECK_THROWS_WITH_AS(mul(zeros({2}), zeros({2}, {DType::Float64})), doctest::Contains("float32 and float64"),
                       Error);
}

TEST_CASE("matmul shape mismatch prints both shapes") {
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}), zeros({4, 5})), doctest::Contains("[2, 3] and [4, 5]"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({3}), zeros({3, 2})), doctest::Contains("2-d or 3-d"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 2, 3}), zeros({3, 3, 1})), doctest::Contains("batch sizes differ"), Error);
}

TEST_CASE("linear names the expected input, weight and bias shapes") {
  CHECK_THROWS_WITH_AS(linear(zeros({2, 4}), zeros({5, 3})), doctest::Contains("(N, 3)"), Error);
  CHECK_THROWS_WITH_AS(linear(zeros({2, 3}), zeros({5, 3, 1})), doctest::Contains("2-d weight"), Error);
  CHECK_THROWS_WITH_AS(linear(zeros({2, 3}), zeros({5, 3}), zeros({4})), doctest::Contains("bias of shape [5]"),
                       Error);
}

TEST_CASE("out-of-range dims and indices are errors") {
  Tensor t = zeros({2, 3});
  CHECK_THROWS_WITH_AS(sum(t, {2}), doctest::Contains("dimension out of range"), Error);
  CHECK_THROWS_WITH_AS(t.transpose(0, 5), doctest::Contains("got 5"), Error);
  CHECK_THROWS_WITH_AS(t.select(0, 2), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(t.at({0, 3}), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(t.narrow(1, 2, 2), doctest::Contains("out of bounds"), Error);
  CHECK_THROWS_WITH_AS(sum(t, {1, 1}), doctest::Contains("twice"), Error);
}

TEST_CASE("reshape to a wrong element count is an error") {
  CHECK_THROWS_WITH_AS(zeros({2, 3}).reshape({4, 2}), doctest::Contains("invalid for an input of shape [2, 3]"),
                       Error);
  CHECK_THROWS_WITH_AS(zeros({2, 3}).t().view({6}), doctest::Contains("not contiguous"), Error);
  CHECK_THROWS_WITH_AS(zeros({2, 3}).expand({4, 3}), doctest::Contains("cannot expand"), Error);
}

TEST_CASE("backward on a non-scalar without a gradient is an error") {
  Tensor x = ones({2}, {DType::Float64, Device::cpu(), true});
  CHECK_THROWS_WITH_AS((x * 2.0).backward(), doctest::Contains("expected a grad_output of shape [2]"), Error);
  CHECK_THROWS_WITH_AS((x * 2.0).backward(ones({3}, {DType::Float64})), doctest::Contains("expected the output's shape"),
                       Error);
}

TEST_CASE("backward on a tensor without history is an error") {
  CHECK_THROWS_WITH_AS(sum(ones({2})).backward(), doctest::Contains("does not require grad"), Error);
}

TEST_CASE("a backward that returns the wrong shape is caught by the engine, naming the op") {
  Tensor x = ones({2}, {DType::Float64, Device::cpu(), true});
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * 2.0;
  }
  record("broken_op", {x}, y, [](const Tensor&, const std::vector<bool>&) {
    return TensorList{ones({3}, {DType::Float64})};
  });
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("broken_op"), Error);
}

TEST_CASE("cat and stack check their inputs") {
  CHECK_THROWS_WITH_AS(cat({zeros({2, 3}), zeros({2, 4})}, 0), doctest::Contains("except along dim 0"), Error);
  CHECK_THROWS_WITH_AS(cat({}, 0), doctest::Contains("at least one"), Error);
  CHECK_THROWS_WITH_AS(stack({zeros({2}), zeros({3})}), doctest::Contains("tensor 1 has shape [3]"), Error);
}

TEST_CASE("class targets are validated") {
  Tensor logits = zeros({2, 3});
  Tensor bad = from_vector(std::vector<int64_t>{0, 3}, {2}, {DType::Int64});
  CHECK_THROWS_WITH_AS(cross_entropy(logits, bad), doctest::Contains("target 3 at position 1"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, zeros({2})), doctest::Contains("int64"), Error);
}

TEST_CASE("integer tensors cannot require grad or enter float ops") {
  Tensor i = zeros({2}, {DType::Int64});
  CHECK_THROWS_WITH_AS(i.requires_grad_(true), doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(exp(i), doctest::Contains("expected a float32 or float64"), Error);
}

TEST_CASE("the CUDA device is a clear error when absent") {
  if (device_available(DeviceType::CUDA)) return;
  CHECK_THROWS_WITH_AS(zeros({2}, {DType::Float32, Device::cuda()}), doctest::Contains("cuda"), Error);
}

TEST_CASE("operations on an undefined tensor are errors") {
  Tensor empty_handle;
  CHECK_THROWS_WITH_AS(empty_handle.shape(), doctest::Contains("undefined"), Error);
}

TEST_CASE("edge cases found in review are handled, not undefined") {
  CHECK(matmul(zeros({0, 4, 3}), zeros({0, 3, 5})).shape() == Shape{0, 4, 5});  // an empty batch stays batched
  CHECK_THROWS_WITH_AS(scalar_tensor(1.0).size(0), doctest::Contains("0-d"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(zeros({1, 1, 1, 1}), 3, 3, 0), doctest::Contains("does not fit"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({1, 1, 2, 2}), 3), doctest::Contains("does not fit"), Error);
  Tensor x = zeros({4, 2});
  CHECK_THROWS_WITH_AS(batch_norm(x, zeros({2}), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("or neither"), Error);
  Tensor stats = zeros({2, 2});
  CHECK_THROWS_WITH_AS(batch_norm(x, stats.select(1, 0), stats.select(1, 1), Tensor(), Tensor(), true),
                       doctest::Contains("contiguous"), Error);
  Tensor p = zeros({2}, {DType::Float32, Device::cpu(), true});
  CHECK_THROWS_WITH_AS(p.set_grad(zeros({2}, {DType::Float64})), doctest::Contains("float32"), Error);
}
