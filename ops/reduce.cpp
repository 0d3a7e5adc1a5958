// Reductions: sum, mean, max, min, logsumexp, sum_to_shape. The kernels (cpu/reduce.cpp,
// cuda/reduce.cu) view a contiguous input as (outer, R, inner), R being the reduced
// extent; adjacent reduced dims are one R.
#include "ops/reduce.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "ops/arithmetic.h"
#include "ops/elementwise.h"
#include "ops/math.h"

namespace sg {

std::vector<int64_t> reduction_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (ndim == 0) {  // a 0-d tensor: dim 0 / -1 are accepted (as PyTorch) and reduce nothing
    for (int64_t d : dims) wrap_dim(d, ndim, op);
    return out;
  }
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  SG_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": dim listed twice in ", list_str(dims));
  return out;
}

Shape keepdim_shape(const Shape& shape, const std::vector<int64_t>& dims) {
  Shape out = shape;
  for (int64_t d : dims) out[static_cast<std::size_t>(d)] = 1;
  return out;
}

namespace {

ReduceBlock block_of(const Shape& shape, int64_t first, int64_t last) {  // dims [first, last] reduced
  ReduceBlock b{1, 1, 1};
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    int64_t s = shape[static_cast<std::size_t>(d)];
    (d < first ? b.outer : d <= last ? b.reduced : b.inner) *= s;
  }
  return b;
}

// out[o, i] = sum_r x[o, r, i] for one block of adjacent dims; returns keepdim shape.
Tensor sum_block(const Tensor& input, int64_t first, int64_t last) {
  Tensor x = input.contiguous();
  Shape out_shape = x.shape();
  for (int64_t d = first; d <= last; ++d) out_shape[static_cast<std::size_t>(d)] = 1;
  Tensor out = empty(out_shape, {x.dtype(), x.device(), false});
  kernels_for(x).sum_block(x, out, block_of(x.shape(), first, last));
  return out;
}

// Sum over sorted dims, keeping them as size 1. Adjacent dims are reduced in one pass.
Tensor sum_keepdim(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor out = x;
  std::size_t end = dims.size();
  while (end > 0) {  // from the last group back, so earlier dims keep their meaning
    std::size_t begin = end - 1;
    while (begin > 0 && dims[begin - 1] == dims[begin] - 1) --begin;
    out = sum_block(out, dims[begin], dims[end - 1]);
    end = begin;
  }
  if (dims.empty()) out = out.contiguous();
  return out;
}

Shape drop_dims(const Shape& shape, const std::vector<int64_t>& dims) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) out.push_back(shape[static_cast<std::size_t>(d)]);
  return out;
}

}  // namespace

// out = sum over dims of x          dx = g broadcast back over the summed dims
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  std::vector<int64_t> dims = reduction_dims(dims_in, x.dim(), "sum");
  Tensor out;
  {
    NoGradGuard no_grad;
    out = sum_keepdim(x, dims);
    if (!keepdim) out = out.reshape(drop_dims(x.shape(), dims));
  }
  out = out.detach();
  Shape in_shape = x.shape(), kept = keepdim_shape(x.shape(), dims);
  return record("sum", {x}, out, [in_shape, kept](const Tensor& g, const std::vector<bool>&) {
    return TensorList{g.reshape(kept).expand(in_shape)};
  });
}

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

// out = sum / count                  dx = g / count, broadcast back
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  std::vector<int64_t> dims = reduction_dims(dims_in, x.dim(), "mean");
  int64_t count = 1;
  for (int64_t d : dims) count *= x.shape()[static_cast<std::size_t>(d)];
  SG_CHECK(count > 0, "mean: reduction over an empty extent (shape ", shape_str(x.shape()), ")");
  return sum(x, dims, keepdim) * (1.0 / static_cast<double>(count));
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

// ---- max / min ------------------------------------------------------------------------------
namespace {

template <bool IsMax>
ValuesIndices extreme(const Tensor& input, int64_t dim_in, bool keepdim) {
  const char* op = IsMax ? "max" : "min";
  int64_t dim = wrap_dim(dim_in, input.dim(), op);
  Tensor x = input.contiguous();
  if (x.dim() == 0) x = x.reshape({1});
  SG_CHECK(x.shape()[static_cast<std::size_t>(dim)] > 0, op, ": reduction over an empty dim (shape ",
           shape_str(input.shape()), ")");
  Shape kept = keepdim_shape(x.shape(), {dim});
  Tensor values = empty(kept, {x.dtype(), x.device(), false});
  Tensor indices = empty(kept, {DType::Int64, x.device(), false});
  ReduceBlock b = block_of(x.shape(), dim, dim);
  kernels_for(x).extreme(x, values, indices, b, IsMax);
  Shape in_shape = input.shape();
  if (!keepdim) {
    Shape out_shape = input.dim() == 0 ? Shape{} : drop_dims(x.shape(), {dim});
    values = values.reshape(out_shape);
    indices = indices.reshape(out_shape);
  } else if (input.dim() == 0) {
    values = values.reshape({});
    indices = indices.reshape({});
  }
  // dx = g placed at the extreme's position along dim, 0 elsewhere.
  record(op, {input}, values,
         [in_shape, kept, block = b, saved_indices = save(indices, op)](const Tensor& g, const std::vector<bool>&) {
           Tensor grad_in = zeros(in_shape, {g.dtype(), g.device(), false});
           Tensor gc = g.reshape(kept).contiguous();
           Tensor idx = saved_indices.get().contiguous();
           kernels_for(g).extreme_backward(gc, idx, grad_in, block);
           return TensorList{grad_in};
         });
  return {values, indices};
}

}  // namespace

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) { return extreme<true>(x, dim, keepdim); }
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) { return extreme<false>(x, dim, keepdim); }
Tensor max(const Tensor& x) { return max(x.reshape({-1}), 0).values; }
Tensor min(const Tensor& x) { return min(x.reshape({-1}), 0).values; }

// ---- logsumexp ----------------------------------------------------------------------------------
// y = m + log(sum(exp(x - m)))       dx = g * exp(x - y)   (the softmax of x)
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  std::vector<int64_t> dims = reduction_dims(dims_in, x.dim(), "logsumexp");
  Tensor y_kept;
  {
    NoGradGuard no_grad;
    Tensor m = x.detach();
    for (int64_t d : dims) m = max(m, d, true).values;
    // A row of -inf would give (-inf) - (-inf) = nan; shift by 0 there instead.
    m = map_unary(m, fn::FiniteOrZero{}, "logsumexp");
    y_kept = add(m, log(sum(exp(sub(x.detach(), m)), dims, true)));
  }
  Shape kept = y_kept.shape(), in_shape = x.shape();
  Tensor out = keepdim ? y_kept : y_kept.reshape(drop_dims(in_shape, dims));
  out = out.detach();
  return record("logsumexp", {x}, out,
                [kept, saved_x = save(x, "logsumexp"), saved_y = save(y_kept, "logsumexp")](
                    const Tensor& g, const std::vector<bool>&) {
                  Tensor softmax = exp(sub(saved_x.get(), saved_y.get()));
                  return TensorList{mul(g.reshape(kept), softmax)};
                });
}

// ---- sum_to_shape ------------------------------------------------------------------------------
Tensor sum_to_shape(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  std::vector<int64_t> dims;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  SG_CHECK(lead >= 0, "sum_to_shape: gradient of shape ", shape_str(grad.shape()), " has fewer dims than ",
           shape_str(shape));
  for (int64_t d = 0; d < grad.dim(); ++d) {
    if (d < lead) dims.push_back(d);
    else if (shape[static_cast<std::size_t>(d - lead)] == 1 && grad.shape()[static_cast<std::size_t>(d)] != 1)
      dims.push_back(d);
  }
  NoGradGuard no_grad;
  Tensor out = dims.empty() ? grad : sum_keepdim(grad, dims);
  return out.reshape(shape);
}

}  // namespace sg
