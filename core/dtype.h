#pragma once
// Element types a tensor can hold. Float32 is the training dtype, Float64 is what
// gradient checking runs in, Int64 holds labels and indices (never differentiable).
#include <cstddef>
#include <cstdint>
#include <string>

namespace sg {

enum class DType : uint8_t { Float32, Float64, Int64 };

inline std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
  }
  return 0;  // unreachable: every DType is listed above
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
  }
  return "?";
}

inline bool is_floating(DType t) { return t != DType::Int64; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }

}  // namespace sg
