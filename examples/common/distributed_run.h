#pragma once
// What the examples need to train on several processes (mpirun -np N ...), in one place
// so that each training loop gains only a few marked lines. Without mpirun the same
// calls make a job of one process: the slices are the whole batch and the averages are
// the values themselves, so the program trains exactly as before.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "distributed/communicator.h"
#include "distributed/data_parallel.h"
#include "layers/module.h"

namespace sg::examples {

struct DistributedRun {
  std::shared_ptr<dist::Communicator> comm;

  bool is_root() const { return comm->is_root(); }
  int world_size() const { return comm->world_size(); }
  // This rank's rows of a global batch: rows [r * B / W, (r + 1) * B / W).
  Tensor local_slice(const Tensor& global_batch) const;
  // Each value's mean over the ranks (losses and logits for logs and SN policies, which
  // must decide the same on every rank).
  std::vector<double> mean_over_ranks(const std::vector<double>& values) const;
};

// Starts the job: MPI under mpirun (NCCL for --device cuda), one process otherwise. Then
// checks that `global_batch` divides by the number of ranks and that every rank runs the
// same `settings` and build, silences stdout and progress bars on ranks other than 0
// (they would repeat rank 0's), and shares the machine's cores between its ranks when
// SIGMAGRAD_NUM_THREADS does not say otherwise.
DistributedRun start_distributed_run(const std::string& device, int64_t global_batch, const std::string& settings);

// Makes `model` a replica: synchronised batch norm, rank 0's parameters and buffers.
// Returns the averager of its gradients (call it after backward, before the step).
std::unique_ptr<dist::GradientAverager> make_replica(const DistributedRun& run, Module& model);

}  // namespace sg::examples
