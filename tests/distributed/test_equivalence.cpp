// The property that defines data parallelism: W ranks, each training on its slice of the
// global batch with synchronised batch norm and averaged gradients, compute what one process
// computes on the whole global batch. Every rank also trains the single-process reference
// itself (no communication), so each rank compares its replica with it directly.
#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "core/generator.h"
#include "distributed/data_parallel.h"
#include "distributed/sync_batch_norm.h"
#include "helpers.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "optim/adam.h"

using namespace sg;
using namespace sg::dist;
using sg::dist::testing::job;

namespace {

// Linear(6, 8) with SN, BatchNorm1d(8), ReLU, Linear(8, 1) with SN, in float64. The same
// seed gives the same initial weights and the same SN start vectors u, v. The first Linear
// has no bias, as before any batch norm (DCGAN's too): batch norm subtracts it again, so its
// gradient is zero up to rounding, and Adam, which divides by the gradient's size, would
// turn that rounding into steps of size lr that depend on the order of additions.
std::shared_ptr<Sequential> make_model() {
  Generator init(7);
  auto model = std::make_shared<Sequential>(Sequential{
      std::make_shared<Linear>(6, 8, false, init, DType::Float64), std::make_shared<BatchNorm1d>(8, 0.1, 1e-5, DType::Float64),
      std::make_shared<ReLU>(), std::make_shared<Linear>(8, 1, true, init, DType::Float64)});
  spectral_norm(*(*model)[0], {.seed = 11});
  spectral_norm(*(*model)[3], {.seed = 12});
  return model;
}

struct Trainer {
  std::shared_ptr<Sequential> model = make_model();
  Adam optimizer{model->parameters(), {.lr = 0.05}};
};

// One step on rows [begin, begin + count) of the global batch; returns the local mean loss.
double train_step(Trainer& t, const Tensor& x, const Tensor& target, int64_t begin, int64_t count,
                  GradientAverager* averager) {
  Tensor local_x = x.narrow(0, begin, count), local_target = target.narrow(0, begin, count);
  Tensor diff = t.model->forward(local_x) - local_target;
  Tensor loss = (diff * diff).mean();
  t.optimizer.zero_grad();
  loss.backward();
  if (averager != nullptr) averager->average_gradients();
  t.optimizer.step();
  sn_end_step(*t.model);
  return loss.item();
}

}  // namespace

TEST_CASE("data-parallel training with SN and synchronised batch norm equals one process on the global batch") {
  auto comm = job();
  const int world = comm->world_size(), rank = comm->rank();
  const int64_t global_batch = 12, local_batch = global_batch / world;
  REQUIRE(global_batch % world == 0);

  Trainer reference, replica;
  CHECK(convert_to_sync_batch_norm(*replica.model, comm) == 1);
  broadcast_from_root(*comm, replica.model->parameters());
  GradientAverager averager(comm, replica.model->parameters(), 256);  // several buckets

  Generator data(3);  // the same global batches on every rank
  for (int step = 0; step < 4; ++step) {
    Tensor x = randn({global_batch, 6}, data, {DType::Float64});
    Tensor target = randn({global_batch, 1}, data, {DType::Float64});
    const double reference_loss = train_step(reference, x, target, 0, global_batch, nullptr);
    Tensor loss = from_vector(std::vector<double>{train_step(replica, x, target, rank * local_batch, local_batch,
                                                             &averager)},
                              {1}, {DType::Float64});
    comm->all_reduce(loss, ReduceOp::Average);  // equal slices: the mean of means is the global mean
    CAPTURE(step);
    CHECK(loss.item() == doctest::Approx(reference_loss).epsilon(1e-12));
  }
  // Weights, biases, SN's u and v and sigma, the running statistics: all of the state.
  const std::map<std::string, Tensor> expected = reference.model->state_dict(), got = replica.model->state_dict();
  REQUIRE(expected.size() == got.size());
  for (const auto& entry : expected) {
    const std::string& name = entry.first;  // not a structured binding: clang's CAPTURE cannot take one
    const Tensor& tensor = entry.second;
    CAPTURE(name);
    REQUIRE(got.count(name) == 1);
    const std::vector<double> a = tensor.to_vector<double>(), b = got.at(name).to_vector<double>();
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    CHECK(worst <= 1e-12);
  }
  // And the replicas are still bitwise identical to each other.
  CHECK_NOTHROW(verify_replicas(*comm, replica.model->named_buffers(), "the replica's buffers"));
  CHECK_NOTHROW(verify_replicas(*comm, replica.model->named_parameters(), "the replica's parameters"));
}

TEST_CASE("synchronised batch norm's running statistics and eval output match BatchNorm's on the global batch") {
  auto comm = job();
  const int world = comm->world_size();
  Generator data(5);
  Tensor x = randn({4 * world, 3, 2, 2}, data, {DType::Float64}) * 2.0 + 1.0;
  BatchNorm2d local(3, 0.1, 1e-5, DType::Float64), global(3, 0.1, 1e-5, DType::Float64);
  SyncBatchNorm synced(local, comm);
  Tensor y_synced = synced.forward(x.narrow(0, 4 * comm->rank(), 4));
  Tensor y_global = global.forward(x).narrow(0, 4 * comm->rank(), 4);
  const std::vector<double> a = y_synced.to_vector<double>(), b = y_global.to_vector<double>();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-12));
  for (const char* name : {"running_mean", "running_var"})
    for (int64_t c = 0; c < 3; ++c)
      CHECK(local.buffer(name).at({c}) == doctest::Approx(global.buffer(name).at({c})).epsilon(1e-12));
  CHECK(synced.type_name() == "SyncBatchNorm");
}
