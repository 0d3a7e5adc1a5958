#pragma once
// Collectives as ops of the graph, for computations that span ranks (synchronised batch
// norm). Forward and backward side by side in collectives.cpp.
//
//   all_reduce_sum:  y = sum over ranks r of x_r, on every rank.
//   backward:        each rank's loss L_r depends on y, and y on every rank's x, so
//                    dL/dx_r = sum over ranks s of dL_s/dy: the same all-reduce of the
//                    incoming gradients. (The total loss is sum_s L_s; data_parallel.h
//                    divides by the number of ranks when it averages the gradients.)
#include <memory>

#include "core/tensor.h"
#include "distributed/communicator.h"

namespace sg::dist {

Tensor all_reduce_sum(const Tensor& x, const std::shared_ptr<Communicator>& comm);

}  // namespace sg::dist
