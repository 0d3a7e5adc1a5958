#include "distributed/sync_batch_norm.h"

#include "core/autograd.h"
#include "distributed/collectives.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

namespace sg::dist {

namespace {

// The dims a channel's statistics run over: all but dim 1.
std::vector<int64_t> statistic_dims(const Tensor& x) {
  return x.dim() == 2 ? std::vector<int64_t>{0} : std::vector<int64_t>{0, 2, 3};
}

// running = (1 - momentum) running + momentum batch, in place and outside the graph.
void update_running(const Tensor& running, const Tensor& batch, double momentum) {
  const Kernels& kernels = kernels_for(running);
  kernels.scale_inplace(running, 1 - momentum);
  kernels.add_scaled_inplace(running, batch.detach().contiguous(), momentum);
  running.storage().bump_version();
}

}  // namespace

Tensor sync_batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, bool training, double momentum, double eps,
                       const std::shared_ptr<Communicator>& comm) {
  if (!training || comm->world_size() == 1)  // nothing to share: the fused op
    return batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps);
  return batch_norm_over_ranks(x, running_mean, running_var, weight, bias, momentum, eps, comm);
}

Tensor batch_norm_over_ranks(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                             const Tensor& weight, const Tensor& bias, double momentum, double eps,
                             const std::shared_ptr<Communicator>& comm) {
  SG_CHECK(x.dim() == 2 || x.dim() == 4, "sync_batch_norm: expected input (N, C) or (N, C, H, W), got ",
           shape_str(x.shape()));
  const int64_t channels = x.shape()[1];
  const std::vector<int64_t> dims = statistic_dims(x);
  Shape per_channel(x.dim(), 1);  // (1, C) or (1, C, 1, 1): broadcasts against x
  per_channel[1] = channels;

  // One all-reduce for the sums and the count together: ranks may hold slices of
  // different sizes (the count is a constant of the graph, so no gradient flows into it).
  Tensor local_count = full({1}, static_cast<double>(x.numel() / channels), {x.dtype(), x.device(), false});
  Tensor sums = all_reduce_sum(cat({sum(x, dims), local_count}), comm);
  const double count = sums.slice(0, channels, channels + 1).item();
  SG_CHECK(count > 1, "sync_batch_norm: training needs more than one value per channel over all ranks, got ",
           count);
  Tensor mean = sums.slice(0, 0, channels) / count;
  Tensor centered = x - mean.reshape(per_channel);
  Tensor var = all_reduce_sum(sum(centered * centered, dims), comm) / count;
  Tensor y = centered / sqrt(var + eps).reshape(per_channel);
  if (weight.defined()) y = y * weight.reshape(per_channel);
  if (bias.defined()) y = y + bias.reshape(per_channel);
  if (running_mean.defined()) {
    update_running(running_mean, mean, momentum);
    update_running(running_var, var * (count / (count - 1)), momentum);  // unbiased, as BatchNorm
  }
  return y;
}

SyncBatchNorm::SyncBatchNorm(BatchNorm& local, std::shared_ptr<Communicator> comm)
    : BatchNorm(local.features, local.input_dims, local.momentum, local.eps), comm_(std::move(comm)) {
  SG_CHECK(comm_ != nullptr, "SyncBatchNorm: expected a communicator, got none");
  // The same tensors as `local`, not copies: an optimiser built on them keeps working.
  for (const char* name : {"weight", "bias"}) {
    remove_parameter(name);
    register_parameter(name, local.raw_param(name));
    if (auto p = local.parametrization(name)) set_parametrization(name, p);
  }
  for (const char* name : {"running_mean", "running_var"}) {
    remove_buffer(name);
    register_buffer(name, local.buffer(name));
  }
  train(local.is_training());
}

Tensor SyncBatchNorm::forward(const Tensor& x) {
  SG_CHECK(x.dim() == input_dims && x.shape()[1] == features, type_name(), "(", features, "): expected input of ",
           input_dims == 2 ? "shape (N, " : "shape (N, ", features, input_dims == 2 ? ")" : ", H, W)", ", got ",
           shape_str(x.shape()));
  return sync_batch_norm(x, buffer("running_mean"), buffer("running_var"), param("weight"), param("bias"),
                         is_training(), momentum, eps, comm_);
}

int convert_to_sync_batch_norm(Module& root, const std::shared_ptr<Communicator>& comm) {
  // First the places, then the swaps: a swap frees the old layer, which the list of
  // modules still points at.
  std::vector<std::pair<Module*, std::string>> places;
  for (auto& [path, module] : root.named_modules())
    for (const auto& [name, child] : module->children())
      if (dynamic_cast<BatchNorm*>(child.get()) != nullptr && dynamic_cast<SyncBatchNorm*>(child.get()) == nullptr)
        places.emplace_back(module, name);
  for (auto& [parent, name] : places) {
    std::shared_ptr<Module> local;
    for (const auto& [child_name, child] : parent->children())
      if (child_name == name) local = child;
    parent->replace_child(name, std::make_shared<SyncBatchNorm>(dynamic_cast<BatchNorm&>(*local), comm));
  }
  return static_cast<int>(places.size());
}

}  // namespace sg::dist
