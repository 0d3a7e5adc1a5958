#include "distributed_run.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/parallel.h"
#include "distributed/sync_batch_norm.h"
#include "progress.h"

namespace sg::examples {

namespace {

// What must match across ranks besides the settings: the library's features and the
// compiler (another build may round differently, and replicas would drift apart).
std::string build_description() {
  std::string compiler = __VERSION__;
  std::replace(compiler.begin(), compiler.end(), ' ', '_');
  return str(" cuda=", dist::nccl_compiled_in() ? "nccl" : "none", " compiler=", compiler);
}

}  // namespace

Tensor DistributedRun::local_slice(const Tensor& global_batch) const {
  const int64_t local = global_batch.shape()[0] / world_size();
  return global_batch.narrow(0, comm->rank() * local, local);
}

std::vector<double> DistributedRun::mean_over_ranks(const std::vector<double>& values) const {
  if (world_size() == 1) return values;
  Tensor t = from_vector(values, {static_cast<int64_t>(values.size())}, {DType::Float64});
  comm->all_reduce(t, dist::ReduceOp::Average);
  return t.to_vector<double>();
}

DistributedRun start_distributed_run(const std::string& device, int64_t global_batch, const std::string& settings) {
  dist::DistributedOptions options;
  if (device == "cuda" && dist::launched_by_mpirun()) options.backend = "nccl";
  DistributedRun run{dist::init_distributed(options)};
  const int world = run.world_size();
  if (world == 1) return run;
  dist::check_same_on_every_rank(*run.comm, "the settings", settings + build_description());
  SG_CHECK(global_batch % world == 0, "--batch ", global_batch, ": expected a multiple of the number of ranks (",
           world, "), since --batch is the global batch and every rank takes an equal slice of it");
  if (std::getenv("SIGMAGRAD_NUM_THREADS") == nullptr)
    set_num_threads(std::max(1, num_threads() / dist::ranks_on_this_machine()));
  if (!run.is_root()) {
    ProgressBar::hide_all();
    if (std::freopen("/dev/null", "w", stdout) == nullptr)
      std::fprintf(stderr, "rank %d: could not silence stdout\n", run.comm->rank());
  }
  return run;
}

std::unique_ptr<dist::GradientAverager> make_replica(const DistributedRun& run, Module& model) {
  if (run.world_size() > 1) dist::convert_to_sync_batch_norm(model, run.comm);
  std::vector<Tensor> state = model.parameters();
  for (auto& [name, buffer] : model.named_buffers())
    if (buffer.dtype() == DType::Float32 || buffer.dtype() == DType::Float64) state.push_back(buffer);
  dist::broadcast_from_root(*run.comm, state);
  return std::make_unique<dist::GradientAverager>(run.comm, model.parameters());
}

}  // namespace sg::examples
