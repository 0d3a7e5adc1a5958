// Tensor's math shortcuts: each forwards to the op of the same name.
#include "ops/ops.h"

namespace sg {

Tensor Tensor::add(const Tensor& other) const { return sg::add(*this, other); }
Tensor Tensor::sum() const { return sg::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return sg::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return sg::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return sg::mean(*this, dims, keepdim); }
Tensor Tensor::exp() const { return sg::exp(*this); }
Tensor Tensor::log() const { return sg::log(*this); }
Tensor Tensor::sqrt() const { return sg::sqrt(*this); }
Tensor Tensor::abs() const { return sg::abs(*this); }
Tensor Tensor::pow(double exponent) const { return sg::pow(*this, exponent); }
Tensor Tensor::relu() const { return sg::relu(*this); }
Tensor Tensor::sigmoid() const { return sg::sigmoid(*this); }
Tensor Tensor::tanh() const { return sg::tanh(*this); }
Tensor Tensor::matmul(const Tensor& other) const { return sg::matmul(*this, other); }

}  // namespace sg
