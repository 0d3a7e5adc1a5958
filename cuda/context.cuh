#pragma once
// What every CUDA file needs: error checking that turns CUDA failures into sg::Error
// (naming the op and CUDA's error string), the one stream all work is queued on, the
// cuBLAS handle bound to it, and launch-size helpers.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor.h"

namespace sg::cuda {

void check(cudaError_t status, const char* op);
void check_cublas(cublasStatus_t status, const char* op);
// Launch errors surface at the next call; this asks right after a launch.
inline void check_launch(const char* op) { check(cudaGetLastError(), op); }

cudaStream_t stream();
cublasHandle_t cublas();
// Throws the first check (cuda/checks.cu) the device failed since the last call; call it
// after every wait for the device.
void raise_deferred_errors();
// The counters cuda/spectral_norm.cu's kernels use to find the last block of a grid.
unsigned* spectral_norm_counters();

constexpr int kThreads = 256;
inline unsigned blocks(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 32 ? 65535 * 32 : b));
}

// A grid-stride loop index: kernels cover any n with a bounded grid.
#define SG_CUDA_LOOP(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)

// Up to 8 dims of geometry passed to a kernel by value.
constexpr int kMaxDims = 8;
struct Geometry {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[3][kMaxDims] = {};  // per operand
};
// Shape and per-operand strides (already broadcast to `shape`) as a kernel argument.
Geometry make_geometry(const Shape& shape, const Shape* strides[], int operands, const char* op);

// Element offset of operand k for linear index i of `shape`.
__device__ inline int64_t offset_of(const Geometry& g, int k, int64_t i) {
  int64_t at = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    int64_t size = g.shape[d];
    at += (i % size) * g.strides[k][d];
    i /= size;
  }
  return at;
}

template <class Fn>
void dispatch_float(DType dtype, const char* op, Fn&& fn) {
  if (dtype == DType::Float32) fn(float{});
  else if (dtype == DType::Float64) fn(double{});
  else detail::throw_error(op, ": expected a float32 or float64 tensor on cuda, got ", dtype_name(dtype));
}

}  // namespace sg::cuda
