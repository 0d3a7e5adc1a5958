#include "distributed/collectives.h"

#include "core/autograd.h"

namespace sg::dist {

Tensor all_reduce_sum(const Tensor& x, const std::shared_ptr<Communicator>& comm) {
  SG_CHECK(comm != nullptr, "all_reduce_sum: expected a communicator, got none");
  Tensor y = x.detach().clone();  // a fresh buffer: the collective writes in place
  comm->all_reduce(y, ReduceOp::Sum);
  return record("all_reduce_sum", {x}, y, [comm](const Tensor& grad_output, const std::vector<bool>&) {
    Tensor grad = grad_output.detach().clone();
    comm->all_reduce(grad, ReduceOp::Sum);
    return TensorList{grad};
  });
}

}  // namespace sg::dist
