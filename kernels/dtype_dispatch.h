#pragma once
// Runs a generic lambda with the C++ type of a tensor's dtype: how a kernel written once
// as a template serves float32 and float64 (and int64 for copies). Used by cpu/ and cuda/.
#include <cstdint>

#include "core/dtype.h"
#include "core/error.h"

namespace sg {

// Runs fn(T{}) with T = float or double according to `dtype`.
template <class Fn>
decltype(auto) dispatch_floating(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    default: break;
  }
  detail::throw_error(op, ": expected a float32 or float64 tensor, got ", dtype_name(dtype));
}

// Runs fn(T{}) with T = float, double or int64_t according to `dtype`.
template <class Fn>
void dispatch_all(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: fn(float{}); break;
    case DType::Float64: fn(double{}); break;
    case DType::Int64: fn(int64_t{}); break;
  }
}

}  // namespace sg
