// All-reduce, broadcast and the gradient buckets, for any number of ranks W: rank r holds
// values that are a formula in r, so the expected result is a formula in W.
#include <doctest/doctest.h>

#include <vector>

#include "core/autograd.h"
#include "distributed/collectives.h"
#include "distributed/data_parallel.h"
#include "helpers.h"
#include "ops/ops.h"

using namespace sg;
using namespace sg::dist;
using sg::dist::testing::job;

namespace {

// Rank r's element i: (r + 1) * i + 0.5. Summed over r = 0..W-1: i * W(W+1)/2 + W/2.
// Small integers and halves: exact in float32 and float64, in any order of addition.
Tensor rank_values(int64_t n, DType dtype, int rank) {
  std::vector<double> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = (rank + 1.0) * static_cast<double>(i) + 0.5;
  return from_vector(values, {n}).to(dtype);
}

double expected_sum(int64_t i, int world) { return static_cast<double>(i) * world * (world + 1) / 2.0 + world / 2.0; }

}  // namespace

TEST_CASE("all-reduce sums and averages float32 and float64 tensors of odd sizes across ranks") {
  auto comm = job();
  const int world = comm->world_size();
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (int64_t n : {1, 7, 1001}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(n);
      Tensor summed = rank_values(n, dtype, comm->rank());
      comm->all_reduce(summed, ReduceOp::Sum);
      Tensor averaged = rank_values(n, dtype, comm->rank());
      comm->all_reduce(averaged, ReduceOp::Average);
      for (int64_t i = 0; i < n; i += 1 + n / 13) {
        CHECK(summed.at({i}) == expected_sum(i, world));
        CHECK(averaged.at({i}) == doctest::Approx(expected_sum(i, world) / world).epsilon(1e-7));
      }
    }
  }
}

TEST_CASE("all-reduce and broadcast of CUDA tensors equal those of CPU tensors (MPI stages them; NCCL sends them)" *
          doctest::skip(!device_available(DeviceType::CUDA))) {
  auto comm = job();
  for (DType dtype : {DType::Float32, DType::Float64}) {
    CAPTURE(dtype_name(dtype));
    Tensor on_cpu = rank_values(1001, dtype, comm->rank()), on_gpu = on_cpu.to(Device::cuda());
    comm->all_reduce(on_cpu, ReduceOp::Average);
    comm->all_reduce(on_gpu, ReduceOp::Average);
    const std::vector<double> a = on_cpu.to_vector<double>(), b = on_gpu.to(Device::cpu()).to_vector<double>();
    for (std::size_t i = 0; i < a.size(); i += 97) CHECK(b[i] == doctest::Approx(a[i]).epsilon(1e-6));
    Tensor sent = rank_values(7, dtype, comm->rank()).to(Device::cuda());
    comm->broadcast(sent, 0);
    CHECK(sent.to(Device::cpu()).at({6}) == 6.5);  // rank 0's element 6: 1 * 6 + 0.5
  }
}

TEST_CASE("broadcast gives every rank the root's values") {
  auto comm = job();
  Tensor t = rank_values(13, DType::Float64, comm->rank());
  comm->broadcast(t, 0);
  for (int64_t i = 0; i < 13; ++i) CHECK(t.at({i}) == static_cast<double>(i) + 0.5);  // rank 0's formula
  std::string text = comm->is_root() ? "from rank 0" : "";
  comm->broadcast_text(text, 0);
  CHECK(text == "from rank 0");
}

TEST_CASE("a collective refuses a tensor it cannot reduce in place, naming what it got") {
  auto comm = job();
  Tensor strided = zeros({4, 4}, {DType::Float64}).t();
  CHECK_THROWS_WITH(comm->all_reduce(strided, ReduceOp::Sum),
                    doctest::Contains("all_reduce: expected a contiguous tensor"));
  CHECK_THROWS_WITH(comm->all_reduce(zeros({3}, {DType::Int64}), ReduceOp::Sum),
                    doctest::Contains("expected a float32 or float64 tensor, got int64"));
}

TEST_CASE("gradients are averaged in several buckets of mixed dtypes, missing gradients count as zeros") {
  auto comm = job();
  const int world = comm->world_size(), rank = comm->rank();
  // 5 + 11 + 3 + 7 elements; 64-byte buckets put the float64 ones apart from the float32
  // ones and split them by size: [a], [b], [c], [d] at most 64 bytes each or alone.
  std::vector<Tensor> params = {zeros({5}, {DType::Float64, Device::cpu(), true}),
                                zeros({11}, {DType::Float64, Device::cpu(), true}),
                                zeros({3}, {DType::Float32, Device::cpu(), true}),
                                zeros({7}, {DType::Float32, Device::cpu(), true})};
  GradientAverager averager(comm, params, 64);
  CHECK(averager.bucket_count() == 3);  // [5 f64] (40 B; +88 B would exceed 64), [11 f64], [3 f32 + 7 f32] (40 B)
  CHECK(averager.bytes_per_call() == (5 + 11) * 8 + (3 + 7) * 4);
  for (std::size_t k = 0; k < params.size(); ++k)
    if (k != 1) params[k].set_grad(rank_values(params[k].numel(), params[k].dtype(), rank));
  // params[1] has no gradient on any rank: it receives zeros (on one process the averager
  // does nothing at all, so it keeps none).
  averager.average_gradients();
  for (std::size_t k = 0; k < params.size(); ++k) {
    const Tensor grad = params[k].grad();
    if (k == 1 && world == 1) {
      CHECK_FALSE(grad.defined());
      continue;
    }
    REQUIRE(grad.defined());
    for (int64_t i = 0; i < grad.numel(); ++i)
      CHECK(grad.at({i}) == doctest::Approx(k == 1 ? 0.0 : expected_sum(i, world) / world).epsilon(1e-7));
  }
}

TEST_CASE("a frozen parameter is left out of the average: its own .grad stays, and none is given to it") {
  auto comm = job();
  const int rank = comm->rank();
  auto param = [] { return zeros({4}, {DType::Float64, Device::cpu(), true}); };
  Tensor trained = param(), frozen_with_grad = param(), frozen_without = param();
  GradientAverager averager(comm, {trained, frozen_with_grad, frozen_without});
  trained.set_grad(rank_values(4, DType::Float64, rank));
  frozen_with_grad.set_grad(rank_values(4, DType::Float64, rank));  // from a step before it was frozen
  frozen_with_grad.requires_grad_(false);
  frozen_without.requires_grad_(false);
  averager.average_gradients();
  for (int64_t i = 0; i < 4; ++i) {
    CHECK(trained.grad().at({i}) == doctest::Approx(expected_sum(i, comm->world_size()) / comm->world_size()));
    CHECK(frozen_with_grad.grad().at({i}) == (rank + 1.0) * static_cast<double>(i) + 0.5);  // this rank's own
  }
  CHECK_FALSE(frozen_without.grad().defined());
}

TEST_CASE("all_reduce_sum's gradient is the sum over ranks of the gradients of its output") {
  // y = sum_r x_r on every rank; rank r's loss L_r = (r + 1) * sum(y), so
  // dL/dx_r summed over every rank's loss: sum_s (s + 1) = W(W+1)/2 for each element.
  auto comm = job();
  const int world = comm->world_size();
  Tensor x = rank_values(4, DType::Float64, comm->rank()).requires_grad_(true);
  Tensor y = all_reduce_sum(x, comm);
  CHECK(y.at({3}) == expected_sum(3, world));
  (sum(y) * (comm->rank() + 1.0)).backward();
  for (int64_t i = 0; i < 4; ++i) CHECK(x.grad().at({i}) == world * (world + 1) / 2.0);
}

TEST_CASE("checksums are equal for equal values and differ when one bit differs") {
  Tensor a = tensor({1.0, 2.0, 3.0}, {DType::Float64});
  Tensor b = a.clone();
  CHECK(tensor_checksum(a) == tensor_checksum(b));
  b.data<double>()[2] = std::nextafter(3.0, 4.0);
  CHECK(tensor_checksum(a) != tensor_checksum(b));
}

TEST_CASE("verify_replicas passes identical replicas and names the tensor of a rank that differs") {
  auto comm = job();
  Tensor w = tensor({1.0, 2.0}, {DType::Float64}), u = tensor({0.6, 0.8}, {DType::Float64});
  const std::vector<std::pair<std::string, Tensor>> replica = {{"0.weight", w}, {"0.weight_u", u}};
  CHECK_NOTHROW(verify_replicas(*comm, replica, "D"));
  if (comm->world_size() == 1) return;  // one replica cannot differ from itself
  if (comm->rank() == comm->world_size() - 1) u.data<double>()[1] = 0.8000001;
  const std::string expected =
      str("D: rank ", comm->world_size() - 1, " holds another value of '0.weight_u' than rank 0");
  CHECK_THROWS_WITH(verify_replicas(*comm, replica, "D"),
                    doctest::Contains(expected.c_str()));
}

TEST_CASE("a configuration that differs between ranks stops every rank with the difference") {
  auto comm = job();
  CHECK_NOTHROW(check_same_on_every_rank(*comm, "the settings", "model=mlp batch=64"));
  if (comm->world_size() == 1) return;
  const std::string mine = comm->rank() == 1 ? "model=mlp batch=32" : "model=mlp batch=64";
  CHECK_THROWS_WITH(check_same_on_every_rank(*comm, "the settings", mine),
                    doctest::Contains("the ranks disagree on the settings: rank 0 has 'batch=64', rank 1 has "
                                      "'batch=32'"));
}
