// operator<<: "tensor([[1.0000, 2.0000], [3.0000, 4.0000]], shape=[2, 2], dtype=float32, ...)".
// Tensors over 1000 elements show the first and last 3 entries of each dimension.
#include <cstdio>
#include <string>

#include "core/autograd.h"
#include "core/tensor.h"

namespace sg {

namespace {
constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdgeItems = 3;

std::string format_value(double v, DType dtype) {
  char buf[48];
  if (dtype == DType::Int64) std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  else std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

void print_dim(std::ostream& os, const std::vector<double>& values, const Shape& shape, DType dtype,
               std::size_t d, int64_t base, bool summarise) {
  if (shape.empty()) {
    os << format_value(values[0], dtype);
    return;
  }
  int64_t inner = 1;
  for (std::size_t k = d + 1; k < shape.size(); ++k) inner *= shape[k];
  os << '[';
  for (int64_t i = 0; i < shape[d]; ++i) {
    if (summarise && shape[d] > 2 * kEdgeItems && i == kEdgeItems) {
      os << "..., ";
      i = shape[d] - kEdgeItems - 1;
      continue;
    }
    if (d + 1 == shape.size()) os << format_value(values[static_cast<std::size_t>(base + i)], dtype);
    else print_dim(os, values, shape, dtype, d + 1, base + i * inner, summarise);
    if (i + 1 < shape[d]) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(d + 8, ' '));
  }
  os << ']';
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::vector<double> values = t.to(DType::Float64).to_vector<double>();
  os << "tensor(";
  print_dim(os, values, t.shape(), t.dtype(), 0, 0, t.numel() > kSummariseAbove);
  os << ", shape=" << shape_str(t.shape()) << ", dtype=" << dtype_name(t.dtype())
     << ", device=" << t.device().str();
  if (t.grad_fn()) os << ", grad_fn=<" << t.grad_fn()->name() << ">";
  else if (t.requires_grad()) os << ", requires_grad=true";
  return os << ")";
}

}  // namespace sg
