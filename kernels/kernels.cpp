// The dispatch point: the only code that looks at a tensor's device to pick a kernel.
#include "kernels/kernels.h"

#include <algorithm>

#include "cpu/backend.h"
#include "cpu/elementwise.h"  // cpu::map_unary / map_binary
#include "cuda/backend.h"
#include "kernels/pointwise.h"

namespace sg {

namespace {

// core/ registers no backend itself: this tells it how to bring CUDA's up on first use
// (a CUDA tensor made before any op has run still finds its allocator).
const bool cuda_loader_set = (set_device_loader(DeviceType::CUDA, &cuda::available), true);

thread_local int reference_guards = 0;

}  // namespace

const Kernels& kernels_for(Device device) {
  if (device.is_cpu()) return cpu::kernels();
  const Kernels* table = cuda::kernels();
  SG_CHECK(table, "device ", device.str(), " is not available: sigmagrad was built without CUDA or no GPU was found ",
           "(expected a CUDA device, found none)");
  return *table;
}

const FastKernels* fast_kernels_for(Device device) {
  (void)cuda_loader_set;
  if (reference_guards > 0) return nullptr;
  if (device.is_cpu()) return &cpu::fast_kernels();
  return cuda::fast_kernels();
}

ReferencePathGuard::ReferencePathGuard() { ++reference_guards; }
ReferencePathGuard::~ReferencePathGuard() { --reference_guards; }
bool ReferencePathGuard::active() { return reference_guards > 0; }

template <class F>
Tensor map_unary(const Tensor& input, F f, const char* op) {
  if (input.device().is_cpu()) return cpu::map_unary(input, f, op);
  kernels_for(input.device());  // the clear error when the device's backend is absent
  return cuda::map_unary(input.contiguous(), f, op);
}

template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, F f, const char* op) {
  check_same_dtype_device(a, b, op);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  if (a.device().is_cpu()) return cpu::map_binary(a, b, shape, f, op);
  kernels_for(a.device());
  return cuda::map_binary(a, b, shape, f, op);
}

// Compiled for exactly the functors of kernels/pointwise.h (the CUDA build instantiates
// its kernels from the same lists).
#define SG_UNARY(F) template Tensor map_unary<F>(const Tensor&, F, const char*);
#define SG_BINARY(F) template Tensor map_binary<F>(const Tensor&, const Tensor&, F, const char*);
SG_UNARY_FUNCTORS(SG_UNARY)
SG_BINARY_FUNCTORS(SG_BINARY)
#undef SG_UNARY
#undef SG_BINARY

void check_same_dtype_device(const Tensor& a, const Tensor& b, const char* op) {
  SG_CHECK(a.device() == b.device(), op, ": expected both tensors on the same device, got ", a.device().str(),
           " and ", b.device().str());
  SG_CHECK(a.dtype() == b.dtype(), op, ": expected both tensors to have the same dtype, got ",
           dtype_name(a.dtype()), " and ", dtype_name(b.dtype()), " (convert one with .to(dtype))");
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  std::size_t ndim = std::max(a.size(), b.size());
  Shape out(ndim);
  for (std::size_t i = 0; i < ndim; ++i) {
    int64_t da = i < ndim - a.size() ? 1 : a[i - (ndim - a.size())];
    int64_t db = i < ndim - b.size() ? 1 : b[i - (ndim - b.size())];
    SG_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast together (dim ", static_cast<int64_t>(i) - static_cast<int64_t>(ndim), ": ",
             da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// Returns false when the layout is neither row- nor column-major (then copy first).
bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, BlasOperand* out) {
  if (cs == 1 && (rows == 1 || rs >= cols)) {
    *out = {false, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
    return true;
  }
  if (rs == 1 && (cols == 1 || cs >= rows)) {
    *out = {true, cols == 1 ? std::max<int64_t>(rows, 1) : cs};
    return true;
  }
  return false;
}

}  // namespace

Tensor blas_ready(const Tensor& t, BlasOperand* layout) {
  const int64_t nd = t.dim();
  const int64_t rows = t.shape()[nd - 2], cols = t.shape()[nd - 1];
  if (blas_layout(rows, cols, t.strides()[nd - 2], t.strides()[nd - 1], layout)) return t;
  Tensor c = t.contiguous();
  blas_layout(rows, cols, c.strides()[nd - 2], c.strides()[nd - 1], layout);
  return c;
}

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  Shape strides(shape.size(), 0);
  std::size_t lead = shape.size() - static_cast<std::size_t>(t.dim());
  for (std::size_t i = 0; i < static_cast<std::size_t>(t.dim()); ++i)
    strides[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return strides;
}

}  // namespace sg
