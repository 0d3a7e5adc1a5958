#pragma once
// Synchronised batch norm: in training mode the batch statistics are those of the global
// batch (every rank's slice together), so data-parallel training equals one process
// training on the global batch. Per channel, with M the global count of values:
//
//   mean = (sum over ranks of sum x) / M                  one all_reduce_sum
//   var  = (sum over ranks of sum (x - mean)^2) / M       a second (two passes: no
//                                                         cancellation as in E[x^2] - mean^2)
//   y    = (x - mean) / sqrt(var + eps) * weight + bias
//
// written with the graph's ops and all_reduce_sum (collectives.h), so the backward is the
// chain rule through them: the two all-reduces of the forward each become one in the
// backward, carrying the global sums of the gradient the fused BatchNorm backward
// (ops/batch_norm.cpp) computes locally. Eval mode uses the running statistics and talks to
// no one. The running statistics are updated from the global mean and (unbiased) variance,
// so they stay identical on every rank.
#include <memory>

#include "distributed/communicator.h"
#include "layers/batch_norm.h"

namespace sg::dist {

Tensor sync_batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, bool training, double momentum, double eps,
                       const std::shared_ptr<Communicator>& comm);
// The training-mode computation above, on any number of ranks (sync_batch_norm takes the
// fused batch_norm instead when there is one rank or in eval mode; the tests gradcheck
// this one on a single process). running_mean/var may be undefined.
Tensor batch_norm_over_ranks(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                             const Tensor& weight, const Tensor& bias, double momentum, double eps,
                             const std::shared_ptr<Communicator>& comm);

// A BatchNorm whose training-mode statistics are global. It shares the tensors of the
// BatchNorm it is made from (parameters and running statistics), and its settings.
class SyncBatchNorm : public BatchNorm {
 public:
  SyncBatchNorm(BatchNorm& local, std::shared_ptr<Communicator> comm);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SyncBatchNorm"; }

 private:
  std::shared_ptr<Communicator> comm_;
};

// Replaces every BatchNorm below `root` by a SyncBatchNorm with the same values (before or after
// building the optimiser: the tensors stay the same). Returns how many.
int convert_to_sync_batch_norm(Module& root, const std::shared_ptr<Communicator>& comm);

}  // namespace sg::dist
