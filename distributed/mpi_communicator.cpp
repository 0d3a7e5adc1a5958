// The MPI communicator: CPU tensors over MPI_COMM_WORLD; a CUDA tensor is staged through the
// host (an MPI that is not CUDA-aware cannot read device memory). Every call that waits for
// other ranks runs under the watchdog.
#include <chrono>
#include <cstdlib>
#include <limits>
#include <memory>

#include "core/error.h"
#include "distributed/backends.h"
#include "distributed/watchdog.h"
#include "kernels/kernels.h"

#ifdef SG_WITH_MPI
#include <mpi.h>
#endif

namespace sg::dist::detail {

#ifdef SG_WITH_MPI

namespace {

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(str(call, ": MPI error: ", std::string(text, length)));
}

int element_count(const Tensor& tensor, const char* collective) {
  SG_CHECK(tensor.numel() <= std::numeric_limits<int>::max(), collective, ": at most ",
           std::numeric_limits<int>::max(), " elements per call, got ", tensor.numel());
  return static_cast<int>(tensor.numel());
}

MPI_Datatype mpi_type(DType dtype) { return dtype == DType::Float64 ? MPI_DOUBLE : MPI_FLOAT; }

// The tensor MPI reads and writes: itself on the CPU, a host copy of a CUDA tensor.
Tensor host_view(const Tensor& tensor) { return tensor.device().is_cpu() ? tensor : tensor.to(Device::cpu()); }

void copy_back(const Tensor& host, const Tensor& tensor) {
  if (host.raw_data() == tensor.raw_data()) return;
  copy_bytes(tensor.raw_data(), tensor.device(), host.raw_data(), host.device(),
             static_cast<std::size_t>(tensor.numel()) * dtype_size(tensor.dtype()));
}

// The rank mpirun gave this process, known before MPI starts (for the watchdog's message).
int rank_from_environment() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK"})
    if (const char* text = std::getenv(name)) return std::atoi(text);
  return -1;
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(double timeout_seconds) : watchdog_(timeout_seconds, rank_from_environment()) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    SG_CHECK(!initialised, "init_distributed: MPI was already started by someone else in this process");
    int provided = 0;
    {
      // MPI_Init waits for every rank to start: one that never does is caught here.
      auto scope = watchdog_.watch("MPI_Init");
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    }
    // Errors come back as codes (check_mpi turns them into sg::Error) instead of aborting.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    watchdog_.set_rank(rank_);
  }
  // Not watched: rank 0 may still be writing its outputs (scores take minutes) while the
  // others wait here; if it dies meanwhile, mpirun ends them.
  ~MpiCommunicator() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string backend_name() const override { return "mpi"; }

  void all_reduce(const Tensor& tensor, ReduceOp op) override {
    check_collective_tensor(tensor, "all_reduce");
    const int count = element_count(tensor, "all_reduce");
    Tensor host = host_view(tensor);
    {
      auto scope = watchdog_.watch(str("an all-reduce of ", count, " ", dtype_name(tensor.dtype()), " values"));
      const auto start = Clock::now();
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, host.raw_data(), count, mpi_type(tensor.dtype()), MPI_SUM,
                              MPI_COMM_WORLD),
                "MPI_Allreduce");
      count_since(start, tensor);
    }
    copy_back(host, tensor);
    // MPI has no mean: the sum, then one scaling pass (exact for a power-of-two world).
    if (op == ReduceOp::Average && size_ > 1) kernels_for(tensor).scale_inplace(tensor, 1.0 / size_);
  }

  void broadcast(const Tensor& tensor, int root) override {
    check_collective_tensor(tensor, "broadcast");
    check_root(root, "broadcast");
    const int count = element_count(tensor, "broadcast");
    Tensor host = host_view(tensor);
    {
      auto scope = watchdog_.watch(str("a broadcast of ", count, " ", dtype_name(tensor.dtype()), " values"));
      const auto start = Clock::now();
      check_mpi(MPI_Bcast(host.raw_data(), count, mpi_type(tensor.dtype()), root, MPI_COMM_WORLD), "MPI_Bcast");
      count_since(start, tensor);
    }
    copy_back(host, tensor);
  }

  void broadcast_text(std::string& text, int root) override {
    check_root(root, "broadcast_text");
    auto scope = watchdog_.watch("a broadcast of text");
    long long length = static_cast<long long>(text.size());
    check_mpi(MPI_Bcast(&length, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD), "MPI_Bcast");
    SG_CHECK(length >= 0 && length <= std::numeric_limits<int>::max(), "broadcast_text: a text of ", length,
             " bytes");
    text.resize(static_cast<std::size_t>(length));
    check_mpi(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, root, MPI_COMM_WORLD), "MPI_Bcast");
  }

  void barrier() override {
    auto scope = watchdog_.watch("a barrier");
    check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  }

 private:
  using Clock = std::chrono::steady_clock;
  void count_since(Clock::time_point start, const Tensor& tensor) {
    record_call(tensor.numel() * static_cast<int64_t>(dtype_size(tensor.dtype())),
          std::chrono::duration<double>(Clock::now() - start).count());
  }
  void check_root(int root, const char* collective) const {
    SG_CHECK(root >= 0 && root < size_, collective, ": expected a root rank in [0, ", size_, "), got ", root);
  }

  Watchdog watchdog_;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::shared_ptr<Communicator> make_mpi_communicator(double timeout_seconds) {
  return std::make_shared<MpiCommunicator>(timeout_seconds);
}

void abort_mpi_job(int exit_code) {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised) MPI_Abort(MPI_COMM_WORLD, exit_code);
}

#else  // no MPI in this build

std::shared_ptr<Communicator> make_mpi_communicator(double) {
  throw Error(launched_by_mpirun()
                  ? "init_distributed: this program was started by mpirun, but this sigmagrad was built without MPI "
                    "(install libopenmpi-dev and openmpi-bin, then rebuild; or run it without mpirun)"
                  : "init_distributed: the 'mpi' backend is not compiled into this sigmagrad (install "
                    "libopenmpi-dev and openmpi-bin, then rebuild)");
}

void abort_mpi_job(int) {}

#endif

}  // namespace sg::dist::detail
