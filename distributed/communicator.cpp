#include "distributed/communicator.h"

#include <cstdlib>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "distributed/backends.h"
#include "distributed/watchdog.h"

namespace sg::dist {

namespace {

// A job of one rank: every collective leaves the tensor as it is (the sum or the mean of
// one value is that value), so a program written for many ranks runs unchanged.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend_name() const override { return "single"; }
  void all_reduce(const Tensor& tensor, ReduceOp) override { check_collective_tensor(tensor, "all_reduce"); }
  void broadcast(const Tensor& tensor, int root) override {
    check_collective_tensor(tensor, "broadcast");
    SG_CHECK(root == 0, "broadcast: expected root 0 in a job of one process, got ", root);
  }
  void broadcast_text(std::string&, int root) override {
    SG_CHECK(root == 0, "broadcast_text: expected root 0 in a job of one process, got ", root);
  }
  void barrier() override {}
};

std::mutex job_mutex;
std::shared_ptr<Communicator> job;  // the one communicator of this process, once made

// The words of `a` that `b` lacks, joined by spaces ("batch=32 lr=0.1").
std::string words_missing_from(const std::string& a, const std::string& b) {
  std::istringstream in_a(a), in_b(b);
  std::multiset<std::string> words_b;
  for (std::string w; in_b >> w;) words_b.insert(w);
  std::string out;
  for (std::string w; in_a >> w;) {
    auto it = words_b.find(w);
    if (it != words_b.end()) {
      words_b.erase(it);
      continue;
    }
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

}  // namespace

namespace detail {

std::shared_ptr<Communicator> make_single_process_communicator() { return std::make_shared<SingleProcess>(); }

}  // namespace detail

bool launched_by_mpirun() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

bool mpi_compiled_in() {
#ifdef SG_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool nccl_compiled_in() {
#ifdef SG_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::shared_ptr<Communicator> init_distributed(const DistributedOptions& options) {
  const std::string& backend = options.backend;
  SG_CHECK(backend == "auto" || backend == "single" || backend == "mpi" || backend == "nccl",
           "init_distributed: expected backend auto, single, mpi or nccl, got '", backend, "'");
  const double timeout = timeout_from_environment(options.timeout_seconds);
  std::lock_guard lock(job_mutex);
  if (job) {
    SG_CHECK(backend == "auto" || backend == job->backend_name(), "init_distributed: this process already runs the '",
             job->backend_name(), "' backend, asked for '", backend, "'");
    return job;
  }
  if (backend == "single" || (backend == "auto" && !launched_by_mpirun())) {
    job = detail::make_single_process_communicator();
  } else if (backend == "nccl") {
    job = detail::make_nccl_communicator(timeout);
  } else {
    job = detail::make_mpi_communicator(timeout);
  }
  return job;
}

void stop_job_after_error(int exit_code) {
  std::shared_ptr<Communicator> current;
  {
    std::lock_guard lock(job_mutex);
    current = job;
  }
  if (current && current->world_size() > 1) detail::abort_mpi_job(exit_code);
}

void check_collective_tensor(const Tensor& tensor, const char* collective) {
  SG_CHECK(tensor.defined(), collective, ": expected a tensor, got an undefined one");
  SG_CHECK(tensor.dtype() == DType::Float32 || tensor.dtype() == DType::Float64, collective,
           ": expected a float32 or float64 tensor, got ", dtype_name(tensor.dtype()));
  SG_CHECK(tensor.is_contiguous(), collective, ": expected a contiguous tensor (it is reduced in place), got one ",
           "with shape ", shape_str(tensor.shape()), " and strides ", shape_str(tensor.strides()));
}

std::vector<double> values_of_every_rank(Communicator& comm, double value) {
  Tensor values = zeros({comm.world_size()}, {DType::Float64});
  values.data<double>()[comm.rank()] = value;
  comm.all_reduce(values, ReduceOp::Sum);
  return values.to_vector<double>();
}

void check_same_on_every_rank(Communicator& comm, const std::string& what, const std::string& text) {
  std::string root_text = text;
  comm.broadcast_text(root_text, 0);
  const std::vector<double> flags = values_of_every_rank(comm, root_text != text ? 1 : 0);  // 1: differs
  for (int r = 1; r < comm.world_size(); ++r) {
    if (flags[r] == 0) continue;
    std::string other = text;  // rank r's text, sent to every rank so all report the same
    comm.broadcast_text(other, r);
    throw Error(str("the ranks disagree on ", what, ": rank 0 has '", words_missing_from(root_text, other), "', rank ",
                    r, " has '", words_missing_from(other, root_text),
                    "'. Every rank must run the same build with the same settings."));
  }
}

}  // namespace sg::dist

#ifndef SG_WITH_NCCL
namespace sg::dist::detail {
std::shared_ptr<Communicator> make_nccl_communicator(double) {
  throw Error(
      "init_distributed: the 'nccl' backend is not compiled into this sigmagrad (it needs the CUDA backend, MPI "
      "and NCCL's nccl.h and libnccl at build time)");
}
}  // namespace sg::dist::detail
#endif
