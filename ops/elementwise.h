#pragma once
// What an op file needs to compute: the dispatch point (kernels/kernels.h: the kernel
// tables, map_unary / map_binary over tensors on any device, the shared argument checks
// such as check_same_dtype_device) and the pointwise functors (kernels/pointwise.h).
#include "core/tensor.h"
#include "kernels/kernels.h"
#include "kernels/pointwise.h"
