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

TEST_CASE("matmul with mismatched inner dims names both shapes") {
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}), zeros({4, 5})), doctest::Contains("[2, 3] and [4, 5]"), Error);
}

TEST_CASE("matmul of a 1-d tensor asks for 2-d or 3-d inputs") {
  CHECK_THROWS_WITH_AS(matmul(zeros({3}), zeros({3, 2})), doctest::Contains("2-d or 3-d"), Error);
}

TEST_CASE("batched matmul with different batch sizes says so") {
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 2, 3}), zeros({3, 3, 1})), doctest::Contains("batch sizes differ"), Error);
}

TEST_CASE("linear with the wrong input width names the expected input shape") {
  CHECK_THROWS_WITH_AS(linear(zeros({2, 4}), zeros({5, 3})), doctest::Contains("(N, 3)"), Error);
}

TEST_CASE("linear with a weight that is not 2-d asks for a 2-d weight") {
  CHECK_THROWS_WITH_AS(linear(zeros({2, 3}), zeros({5, 3, 1})), doctest::Contains("2-d weight"), Error);
}

TEST_CASE("linear with a bias of the wrong length names the expected bias shape") {
  CHECK_THROWS_WITH_AS(linear(zeros({2, 3}), zeros({5, 3}), zeros({4})), doctest::Contains("bias of shape [5]"),
                       Error);
}

TEST_CASE("a reduction over a dim the tensor lacks is out of range") {
  CHECK_THROWS_WITH_AS(sum(zeros({2, 3}), {2}), doctest::Contains("dimension out of range"), Error);
}

TEST_CASE("transpose of a dim the tensor lacks names the bad dim") {
  CHECK_THROWS_WITH_AS(zeros({2, 3}).transpose(0, 5), doctest::Contains("got 5"), Error);
}

TEST_CASE("select past the end of a dim is out of range") {
  CHECK_THROWS_WITH_AS(zeros({2, 3}).select(0, 2), doctest::Contains("out of range"), Error);
}

TEST_CASE("element access past the end of a dim is out of range") {
  CHECK_THROWS_WITH_AS(zeros({2, 3}).at({0, 3}), doctest::Contains("out of range"), Error);
}

TEST_CASE("narrow past the end of a dim is out of bounds") {
  CHECK_THROWS_WITH_AS(zeros({2, 3}).narrow(1, 2, 2), doctest::Contains("out of bounds"), Error);
}

TEST_CASE("a reduction that names the same dim twice is an error") {
  CHECK_THROWS_WITH_AS(sum(zeros({2, 3}), {1, 1}), doctest::Contains("twice"), Error);
}

TEST_CASE("reshape to a wrong element count is an error") {
  CHECK_THROWS_WITH_AS(zeros({2, 3}).reshape({4, 2}), doctest::Contains("invalid for an input of shape [2, 3]"),
                       Error);
}

TEST_CASE("view of a non-contiguous tensor is an error") {
  CHECK_THROWS_WITH_AS(zeros({2, 3}).t().view({6}), doctest::Contains("not contiguous"), Error);
}

TEST_CASE("expand of a dim that is not 1 to another size is an error") {
  CHECK_THROWS_WITH_AS(zeros({2, 3}).expand({4, 3}), doctest::Contains("cannot expand"), Error);
}

TEST_CASE("backward on a non-scalar without a gradient is an error") {
  Tensor x = ones({2}, {DType::Float64, Device::cpu(), true});
  CHECK_THROWS_WITH_AS((x * 2.0).backward(), doctest::Contains("expected a grad_output of shape [2]"), Error);
}

TEST_CASE("backward with a gradient of the wrong shape names the output's shape") {
  Tensor x = ones({2}, {DType::Float64, Device::cpu(), true});
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

TEST_CASE("cat of tensors whose other dims differ says they must agree") {
  CHECK_THROWS_WITH_AS(cat({zeros({2, 3}), zeros({2, 4})}, 0), doctest::Contains("except along dim 0"), Error);
}

TEST_CASE("cat of no tensors asks for at least one") {
  CHECK_THROWS_WITH_AS(cat({}, 0), doctest::Contains("at least one"), Error);
}

TEST_CASE("stack of tensors of different shapes names the odd one") {
  CHECK_THROWS_WITH_AS(stack({zeros({2}), zeros({3})}), doctest::Contains("tensor 1 has shape [3]"), Error);
}

TEST_CASE("a class target outside the classes names the target and its position") {
  Tensor bad = from_vector(std::vector<int64_t>{0, 3}, {2}, {DType::Int64});
  CHECK_THROWS_WITH_AS(cross_entropy(zeros({2, 3}), bad), doctest::Contains("target 3 at position 1"), Error);
}

TEST_CASE("class targets that are not int64 are refused") {
  CHECK_THROWS_WITH_AS(cross_entropy(zeros({2, 3}), zeros({2})), doctest::Contains("int64"), Error);
}

TEST_CASE("an integer tensor cannot require grad") {
  CHECK_THROWS_WITH_AS(zeros({2}, {DType::Int64}).requires_grad_(true), doctest::Contains("int64"), Error);
}

TEST_CASE("an integer tensor cannot enter a float op") {
  CHECK_THROWS_WITH_AS(exp(zeros({2}, {DType::Int64})), doctest::Contains("expected a float32 or float64"), Error);
}

// Skipped, visibly, where a GPU is present: the error is what a machine without one gives.
TEST_CASE("the CUDA device is a clear error when absent" * doctest::skip(device_available(DeviceType::CUDA))) {
  CHECK_THROWS_WITH_AS(zeros({2}, {DType::Float32, Device::cuda()}), doctest::Contains("cuda"), Error);
}

TEST_CASE("operations on an undefined tensor are errors") {
  Tensor empty_handle;
  CHECK_THROWS_WITH_AS(empty_handle.shape(), doctest::Contains("undefined"), Error);
}

TEST_CASE("batched matmul of an empty batch gives an empty batch of the product's shape") {
  CHECK(matmul(zeros({0, 4, 3}), zeros({0, 3, 5})).shape() == Shape{0, 4, 5});
}

TEST_CASE("size(d) of a 0-d tensor is an error") {
  CHECK_THROWS_WITH_AS(scalar_tensor(1.0).size(0), doctest::Contains("0-d"), Error);
}

TEST_CASE("avg_pool2d with a window larger than the input says it does not fit") {
  CHECK_THROWS_WITH_AS(avg_pool2d(zeros({1, 1, 1, 1}), 3, 3, 0), doctest::Contains("does not fit"), Error);
}

TEST_CASE("max_pool2d with a window larger than the input says it does not fit") {
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({1, 1, 2, 2}), 3), doctest::Contains("does not fit"), Error);
}

TEST_CASE("batch_norm with a running mean but no running variance asks for both or neither") {
  CHECK_THROWS_WITH_AS(batch_norm(zeros({4, 2}), zeros({2}), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("or neither"), Error);
}

TEST_CASE("batch_norm refuses non-contiguous running statistics") {
  // The running statistics are updated in place, so they must be contiguous buffers.
  Tensor stats = zeros({2, 2});
  CHECK_THROWS_WITH_AS(batch_norm(zeros({4, 2}), stats.select(1, 0), stats.select(1, 1), Tensor(), Tensor(), true),
                       doctest::Contains("contiguous"), Error);
}

TEST_CASE("set_grad with a gradient of another dtype names the tensor's dtype") {
  Tensor p = zeros({2}, {DType::Float32, Device::cpu(), true});
  CHECK_THROWS_WITH_AS(p.set_grad(zeros({2}, {DType::Float64})), doctest::Contains("float32"), Error);
}
