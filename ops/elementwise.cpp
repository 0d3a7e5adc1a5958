#include "ops/elementwise.h"

namespace sg {

void check_same_dtype_device(const Tensor& a, const Tensor& b, const char* op) {
  SG_CHECK(a.device() == b.device(), op, ": expected both tensors on the same device, got ", a.device().str(),
           " and ", b.device().str());
  SG_CHECK(a.dtype() == b.dtype(), op, ": expected both tensors to have the same dtype, got ",
           dtype_name(a.dtype()), " and ", dtype_name(b.dtype()), " (convert one with .to(dtype))");
}

}  // namespace sg
