#include "distributed/data_parallel.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/autograd.h"
#include "kernels/kernels.h"

namespace sg::dist {

void broadcast_from_root(Communicator& comm, const std::vector<Tensor>& tensors) {
  NoGradGuard no_grad;
  for (const Tensor& t : tensors) {
    comm.broadcast(t, 0);
    t.storage().bump_version();
  }
}

GradientAverager::GradientAverager(std::shared_ptr<Communicator> comm, std::vector<Tensor> parameters,
                                   std::size_t bucket_bytes)
    : comm_(std::move(comm)) {
  SG_CHECK(comm_ != nullptr, "GradientAverager: expected a communicator, got none");
  std::vector<std::vector<Tensor>> groups;  // parameters per bucket, in the given order
  std::size_t group_bytes = 0;
  for (const Tensor& p : parameters) {
    check_collective_tensor(p, "GradientAverager (a parameter)");
    const std::size_t bytes = static_cast<std::size_t>(p.numel()) * dtype_size(p.dtype());
    const bool fits = !groups.empty() && groups.back().front().dtype() == p.dtype() &&
                      groups.back().front().device() == p.device() && group_bytes + bytes <= bucket_bytes;
    if (!fits) {
      groups.emplace_back();
      group_bytes = 0;
    }
    groups.back().push_back(p);
    group_bytes += bytes;
  }
  for (auto& group : groups) {
    int64_t total = 0;
    for (const Tensor& p : group) total += p.numel();
    Bucket bucket{zeros({total}, {group.front().dtype(), group.front().device(), false}), {}};
    int64_t offset = 0;
    for (const Tensor& p : group) {  // each parameter's place in the buffer, as a view of its shape
      bucket.members.emplace_back(p, bucket.flat.slice(0, offset, offset + p.numel()).view(p.shape()));
      offset += p.numel();
    }
    buckets_.push_back(std::move(bucket));
  }
}

int64_t GradientAverager::bytes_per_call() const {
  int64_t bytes = 0;
  for (const Bucket& b : buckets_) bytes += b.flat.numel() * static_cast<int64_t>(dtype_size(b.flat.dtype()));
  return bytes;
}

void GradientAverager::average_gradients() {
  if (comm_->world_size() == 1) return;  // the mean of one gradient is itself
  NoGradGuard no_grad;
  for (Bucket& bucket : buckets_) {
    const Kernels& kernels = kernels_for(bucket.flat);
    for (auto& [param, slot] : bucket.members) {
      const Tensor grad = param.grad();
      if (grad.defined() && param.requires_grad())
        kernels.copy(slot, grad);
      else
        kernels.fill(slot, 0.0);
    }
    comm_->all_reduce(bucket.flat, ReduceOp::Average);
    for (auto& [param, slot] : bucket.members) {
      if (!param.requires_grad()) continue;  // frozen on every rank alike: left as it is
      Tensor grad = param.grad();
      if (grad.defined()) {
        kernels.copy(grad, slot);
        grad.storage().bump_version();
      } else {
        param.set_grad(slot.clone());
      }
    }
  }
}

uint64_t tensor_checksum(const Tensor& tensor) {
  const Tensor host = tensor.to(Device::cpu()).contiguous();
  const auto* bytes = static_cast<const unsigned char*>(host.raw_data());
  const std::size_t n = static_cast<std::size_t>(host.numel()) * dtype_size(host.dtype());
  uint64_t hash = 14695981039346656037ull;  // FNV-1a's offset basis and prime
  for (std::size_t i = 0; i < n; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  return hash;
}

void verify_replicas(Communicator& comm, const std::vector<std::pair<std::string, Tensor>>& named,
                     const std::string& what) {
  if (comm.world_size() == 1) return;  // one replica: nothing to compare, nothing to hash
  // Rank 0's checksums go to every rank; each finds the first tensor where its own differs.
  std::ostringstream mine;
  for (const auto& [name, tensor] : named) mine << tensor_checksum(tensor) << ' ';
  std::string root = mine.str();
  comm.broadcast_text(root, 0);
  std::istringstream root_in(root), mine_in(mine.str());
  int64_t first_difference = -1;
  for (int64_t i = 0; i < static_cast<int64_t>(named.size()); ++i) {
    std::string a, b;
    root_in >> a;
    mine_in >> b;
    if (a != b) {
      first_difference = i;
      break;
    }
  }
  // Per rank, 1 + the index of its first differing tensor (0: none).
  const std::vector<double> per_rank = values_of_every_rank(comm, static_cast<double>(first_difference + 1));
  for (int r = 1; r < comm.world_size(); ++r) {
    if (per_rank[r] == 0) continue;
    const std::string& name = named[static_cast<std::size_t>(per_rank[r]) - 1].first;
    throw Error(str(what, ": rank ", r, " holds another value of '", name, "' than rank 0 (bitwise). Replicas ",
                    "must stay identical: the same initial values, averaged gradients, and the same SN forwards on ",
                    "every rank (u and v are never averaged; docs/distributed.md)"));
  }
}

void verify_replicas(Communicator& comm, const std::map<std::string, Tensor>& state_dict, const std::string& what) {
  verify_replicas(comm, std::vector<std::pair<std::string, Tensor>>(state_dict.begin(), state_dict.end()), what);
}

int ranks_on_this_machine() {
  const char* text = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const int n = text != nullptr ? std::atoi(text) : 1;
  return n > 0 ? n : 1;
}

}  // namespace sg::dist
