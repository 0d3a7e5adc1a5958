#pragma once
// A communicator: the processes (ranks) of one data-parallel job and the collective
// operations between them. sigmagrad does not move bytes itself: MPI (Open MPI, started by
// `mpirun`) carries CPU tensors, NCCL carries CUDA tensors, and a single process is a job of
// one rank whose collectives are identities. The same program therefore runs unchanged with
// or without mpirun (docs/distributed.md).
//
// Every collective must be called by every rank, in the same order, with tensors of the same
// shape and dtype: that is MPI's and NCCL's contract, and data_parallel.h keeps it by calling
// them in a fixed order. A rank that never reaches a collective (dead, hung, stopped) makes
// the others wait; the watchdog (watchdog.h) turns that wait into a clear error after
// `timeout_seconds`.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sg::dist {

enum class ReduceOp { Sum, Average };

// What the collectives of one process have cost so far (bench/ reports it per iteration).
struct CollectiveStats {
  int64_t calls = 0;
  int64_t bytes = 0;     // tensor bytes sent into the collectives (not text)
  double seconds = 0;    // wall time inside them, waiting for the other ranks included
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend_name() const = 0;  // "single", "mpi", "nccl"
  bool is_root() const { return rank() == 0; }

  // In place, on a contiguous float32 or float64 tensor: every rank ends with the sum (or
  // the mean) of all ranks' values.
  virtual void all_reduce(const Tensor& tensor, ReduceOp op) = 0;
  // In place: every rank ends with `root`'s values.
  virtual void broadcast(const Tensor& tensor, int root) = 0;
  // `root`'s text on every rank (configurations, error reports).
  virtual void broadcast_text(std::string& text, int root) = 0;
  virtual void barrier() = 0;

  const CollectiveStats& stats() const { return stats_; }

 protected:
  void record_call(int64_t bytes, double seconds) {
    ++stats_.calls;
    stats_.bytes += bytes;
    stats_.seconds += seconds;
  }

 private:
  CollectiveStats stats_;
};

struct DistributedOptions {
  // How long a collective may wait for the other ranks before the job stops with an error
  // (the environment variable SIGMAGRAD_DIST_TIMEOUT overrides it, in seconds).
  double timeout_seconds = 300;
  // "auto": MPI when started by mpirun, a single process otherwise; "single"; "mpi";
  // "nccl" (CUDA tensors over NCCL, everything else over MPI; one GPU per rank).
  std::string backend = "auto";
};

// The job this process belongs to. The first call starts MPI when the backend needs it;
// later calls return the same communicator. MPI stops at exit.
std::shared_ptr<Communicator> init_distributed(const DistributedOptions& options = {});

// Whether this process was started by mpirun (Open MPI's or PMI's environment variables),
// whether or not this build has MPI.
bool launched_by_mpirun();
// Whether this build has MPI / NCCL compiled in (CMake found them).
bool mpi_compiled_in();
bool nccl_compiled_in();

// Stops the job with an error on every rank when `text` (a configuration: model, dtype, SN
// settings, the build) is not the same on every rank; the message names the first rank
// whose text differs and the words that differ: "the ranks disagree on WHAT: rank 0 has
// 'batch=64', rank 1 has 'batch=32'. ...".
void check_same_on_every_rank(Communicator& comm, const std::string& what, const std::string& text);

// Every rank's `value`, on every rank, indexed by rank (an all-reduce of a vector that
// holds this rank's value at its own place and zeros elsewhere). The consistency checks use
// it to agree on which rank differs.
std::vector<double> values_of_every_rank(Communicator& comm, double value);

// After an error on this rank: ends every rank of a multi-process job at once, with
// `exit_code` (MPI_Abort), so that no rank waits for this one until the watchdog's timeout.
// Does nothing in a job of one process. The examples' run_main calls it.
void stop_job_after_error(int exit_code);

// The checks every backend makes on a collective's tensor (contiguous, float32/float64).
void check_collective_tensor(const Tensor& tensor, const char* collective);

}  // namespace sg::dist
