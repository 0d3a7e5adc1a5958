#pragma once
// Data-parallel training: every rank holds a whole replica of the model and computes the
// gradient of its own slice of the global batch; GradientAverager makes every rank's .grad
// the mean of those gradients, which for a loss that is a mean over the batch (and equal
// slices) is the gradient of the global batch. The optimisers then take identical steps on
// every rank, so the replicas stay identical without ever sending a weight again.
//
// What the ranks must share, and how (docs/distributed.md):
//   weights, buffers   broadcast once from rank 0 (broadcast_from_root)
//   gradients          averaged after every backward, before the optimiser's step
//   batch norm         global statistics (sync_batch_norm.h)
//   SN's u and v       nothing: the power iteration reads only the weights, which are
//                      identical, so ranks that run the same SN forwards keep identical u, v.
//                      Averaging them would be wrong (the mean of unit vectors is shorter
//                      than one, so sigma would shrink); verify_replicas checks instead.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "distributed/communicator.h"

namespace sg::dist {

// Every rank's `tensors` take rank 0's values (float32/float64 tensors only).
void broadcast_from_root(Communicator& comm, const std::vector<Tensor>& tensors);

// Averages the gradients of a fixed list of parameters across ranks, in a few flat buckets:
// each bucket is one contiguous buffer (one dtype and device) of at most `bucket_bytes`
// (a larger parameter gets a bucket of its own), filled with the gradients, all-reduced
// once, and copied back. Buckets and their order are fixed at construction, so every rank
// makes the same calls in the same order. A parameter without a gradient on this rank
// contributes zeros and receives the average. A frozen parameter (requires_grad false,
// alike on every rank) contributes zeros and is left as it is, .grad included, as
// PyTorch's DDP leaves such parameters out; the optimisers do not step it either. In a
// job of one process it does nothing.
class GradientAverager {
 public:
  GradientAverager(std::shared_ptr<Communicator> comm, std::vector<Tensor> parameters,
                   std::size_t bucket_bytes = 4u << 20);
  void average_gradients();

  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t bytes_per_call() const;  // bytes all-reduced by one average_gradients()
  // (The time spent in them is in the communicator's stats(), with every other collective.)

 private:
  struct Bucket {
    Tensor flat;                                     // the contiguous buffer sent
    std::vector<std::pair<Tensor, Tensor>> members;  // parameter, its place in `flat` (a view)
  };
  std::shared_ptr<Communicator> comm_;
  std::vector<Bucket> buckets_;
};

// Checks that every rank holds bitwise the same values of `named` (a state dict: weights,
// buffers, SN's u and v), with one checksum per tensor; if not, stops with an error on every
// rank that names the first tensor that differs and the rank that holds another value.
// `what` says whose tensors they are ("D"). In a job of one process there is nothing to check.
void verify_replicas(Communicator& comm, const std::vector<std::pair<std::string, Tensor>>& named,
                     const std::string& what);
void verify_replicas(Communicator& comm, const std::map<std::string, Tensor>& state_dict, const std::string& what);

// 64-bit FNV-1a of a tensor's bytes (contiguous, read from its device): equal values give
// equal checksums; two replicas that differ in one bit almost surely do not.
uint64_t tensor_checksum(const Tensor& tensor);

// The ranks that share this machine (mpirun's local size; 1 outside mpirun).
int ranks_on_this_machine();

}  // namespace sg::dist
