#pragma once
// What an op file needs to compute: the dispatch point (kernels/kernels.h: the kernel
// tables, map_unary / map_binary over tensors on any device), the pointwise functors
// (kernels/pointwise.h) and the argument checks every op shares.
#include "core/tensor.h"
#include "kernels/kernels.h"
#include "kernels/pointwise.h"

namespace sg {

// A clear error unless a and b are on one device and of one dtype.
void check_same_dtype_device(const Tensor& a, const Tensor& b, const char* op);

}  // namespace sg
