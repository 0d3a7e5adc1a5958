#include "ops/elementwise.h"

namespace sg {

void check_cpu(const Tensor& t, const char* op) {
  SG_CHECK(t.device().is_cpu(), op, ": no kernel for device ", t.device().str(), " (expected cpu)");
}

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

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  Shape strides(shape.size(), 0);
  std::size_t lead = shape.size() - static_cast<std::size_t>(t.dim());
  for (std::size_t i = 0; i < static_cast<std::size_t>(t.dim()); ++i)
    strides[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return strides;
}

}  // namespace sg
