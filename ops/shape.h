#pragma once
// Shape ops. Most are views (Tensor methods, see core/tensor.h): they share storage
// and only change shape/strides/offset; their backward maps the gradient back to the
// input's geometry. cat and stack copy. All in ops/shape.cpp.
#include <vector>

#include "core/tensor.h"

namespace sg {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);

inline Tensor reshape(const Tensor& x, const Shape& shape) { return x.reshape(shape); }
inline Tensor permute(const Tensor& x, const Shape& order) { return x.permute(order); }
inline Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) { return x.transpose(d0, d1); }
inline Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1) {
  return x.slice(dim, start, end, step);
}
inline Tensor expand(const Tensor& x, const Shape& shape) { return x.expand(shape); }
inline Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1) {
  return x.flatten(start_dim, end_dim);
}

}  // namespace sg
