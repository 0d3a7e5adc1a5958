#pragma once
// Reductions: sum, mean, max/min (with indices), logsumexp; and sum_to_shape, which
// every broadcasting op's backward uses. Forward and backward: ops/reduce.cpp.
#include <vector>

#include "core/tensor.h"

namespace sg {

Tensor sum(const Tensor& x);  // over all elements: a 0-d tensor
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

struct ValuesIndices {
  Tensor values;   // differentiable
  Tensor indices;  // int64, position of the extreme along `dim` (the first one on ties)
};
// The gradient flows to the element at `indices` only.
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // over all elements
Tensor min(const Tensor& x);

// log(sum(exp(x))) over dims, computed as m + log(sum(exp(x - m))) with m the max.
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

// Sums a broadcast gradient back to `shape` (the shape of the op's input).
Tensor sum_to_shape(const Tensor& grad, const Shape& shape);

// Normalised, sorted, de-duplicated dims; an empty list means all dims.
std::vector<int64_t> reduction_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op);
// `shape` with each dim in `dims` set to 1.
Shape keepdim_shape(const Shape& shape, const std::vector<int64_t>& dims);

}  // namespace sg
