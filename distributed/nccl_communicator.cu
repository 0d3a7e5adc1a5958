// The NCCL communicator: CUDA tensors over NCCL (ncclAllReduce with ncclSum or ncclAvg,
// ncclBroadcast), on the CUDA backend's stream; CPU tensors and text over MPI, which also
// carries NCCL's unique id from rank 0 to the others. One GPU per rank: rank r uses GPU
// (local rank r) mod (GPUs on its machine), chosen before the CUDA backend's first call.
#include <cuda_runtime.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "distributed/backends.h"
#include "distributed/watchdog.h"

#ifdef SG_WITH_NCCL
#include <nccl.h>

#include "cuda/context.cuh"

namespace sg::dist::detail {

namespace {

void check_nccl(ncclResult_t result, const char* call) {
  if (result != ncclSuccess) throw Error(str(call, ": NCCL error: ", ncclGetErrorString(result)));
}

void check_cuda(cudaError_t result, const char* call) {
  if (result != cudaSuccess) throw Error(str(call, ": CUDA error: ", cudaGetErrorString(result)));
}

ncclDataType_t nccl_type(DType dtype) { return dtype == DType::Float64 ? ncclFloat64 : ncclFloat32; }

// Open MPI tells each process its rank among those on the same machine.
int local_rank() {
  const char* text = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  return text != nullptr ? std::atoi(text) : 0;
}

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(double timeout_seconds) : watchdog_(timeout_seconds, -1) {
    int gpus = 0;
    check_cuda(cudaGetDeviceCount(&gpus), "cudaGetDeviceCount");
    SG_CHECK(gpus > 0, "init_distributed: the 'nccl' backend needs a GPU, and this machine has none");
    check_cuda(cudaSetDevice(local_rank() % gpus), "cudaSetDevice");
    host_ = make_mpi_communicator(timeout_seconds);
    watchdog_.set_rank(host_->rank());
    std::string id_bytes(sizeof(ncclUniqueId), '\0');
    ncclUniqueId id;
    if (host_->is_root()) {
      check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
      std::memcpy(id_bytes.data(), &id, sizeof id);
    }
    host_->broadcast_text(id_bytes, 0);
    std::memcpy(&id, id_bytes.data(), sizeof id);
    auto scope = watchdog_.watch("ncclCommInitRank");
    check_nccl(ncclCommInitRank(&comm_, host_->world_size(), id, host_->rank()), "ncclCommInitRank");
  }
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }

  int rank() const override { return host_->rank(); }
  int world_size() const override { return host_->world_size(); }
  std::string backend_name() const override { return "nccl"; }

  void all_reduce(const Tensor& tensor, ReduceOp op) override {
    if (!tensor.defined() || tensor.device().is_cpu()) return host_->all_reduce(tensor, op);
    check_collective_tensor(tensor, "all_reduce");
    check_nccl(ncclAllReduce(tensor.raw_data(), tensor.raw_data(), static_cast<size_t>(tensor.numel()),
                             nccl_type(tensor.dtype()), op == ReduceOp::Average ? ncclAvg : ncclSum, comm_,
                             cuda::stream()),
               "ncclAllReduce");
    wait(str("an NCCL all-reduce of ", tensor.numel(), " values"), tensor);
  }

  void broadcast(const Tensor& tensor, int root) override {
    if (!tensor.defined() || tensor.device().is_cpu()) return host_->broadcast(tensor, root);
    check_collective_tensor(tensor, "broadcast");
    SG_CHECK(root >= 0 && root < world_size(), "broadcast: expected a root rank in [0, ", world_size(), "), got ",
             root);
    check_nccl(ncclBroadcast(tensor.raw_data(), tensor.raw_data(), static_cast<size_t>(tensor.numel()),
                             nccl_type(tensor.dtype()), root, comm_, cuda::stream()),
               "ncclBroadcast");
    wait(str("an NCCL broadcast of ", tensor.numel(), " values"), tensor);
  }

  void broadcast_text(std::string& text, int root) override { host_->broadcast_text(text, root); }
  void barrier() override { host_->barrier(); }

 private:
  // NCCL calls only enqueue work; the wait for the other ranks happens here.
  void wait(const std::string& what, const Tensor& tensor) {
    auto scope = watchdog_.watch(what);
    const auto start = std::chrono::steady_clock::now();
    check_cuda(cudaStreamSynchronize(cuda::stream()), "cudaStreamSynchronize");
    record_call(tensor.numel() * static_cast<int64_t>(dtype_size(tensor.dtype())),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  Watchdog watchdog_;
  std::shared_ptr<Communicator> host_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::shared_ptr<Communicator> make_nccl_communicator(double timeout_seconds) {
  return std::make_shared<NcclCommunicator>(timeout_seconds);
}

}  // namespace sg::dist::detail

#endif  // SG_WITH_NCCL
