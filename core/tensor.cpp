#include "core/tensor.h"

#include <cstring>

#include "core/autograd.h"
#include "core/captured_step.h"

namespace sg {

// ---- shape helpers -----------------------------------------------------------------
// Every product of sizes goes through here. A shape is usable when its sizes are >= 0
// and the product of the sizes, each counted as at least 1 (the largest contiguous
// stride is that product over the trailing dims), times the element size fits in an
// int64. Without the max(size, 1), a (0, 2^62, 2^62) shape has 0 elements but strides
// that overflow; without the element size, the byte count of the storage does.
int64_t checked_numel(const Shape& shape, const char* op, std::size_t element_size) {
  int64_t numel = 1, span = static_cast<int64_t>(element_size);
  bool overflow = false;
  for (int64_t size : shape) {
    SG_CHECK(size >= 0, op, ": expected non-negative sizes, got shape ", shape_str(shape));
    overflow = overflow || __builtin_mul_overflow(span, std::max<int64_t>(size, 1), &span);
    if (!overflow) numel *= size;  // numel <= span: cannot overflow while span does not
  }
  SG_CHECK(!overflow, op, ": shape ", shape_str(shape), " is too large (its element count",
           element_size > 1 ? str(" times ", element_size, " bytes") : std::string(),
           " does not fit in a 64-bit integer)");
  return numel;
}

int64_t shape_numel(const Shape& shape) { return checked_numel(shape, "shape"); }

Shape contiguous_strides(const Shape& shape) {
  checked_numel(shape, "shape");  // so that no stride below overflows
  Shape strides(shape.size());
  int64_t stride = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim;
  int64_t hi = ndim == 0 ? 0 : ndim - 1;
  SG_CHECK(dim >= lo && dim <= hi, op, ": dimension out of range (expected to be in [", lo, ", ", hi,
           "] for a ", ndim, "-d tensor, got ", dim, ")");
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

std::string shape_str(const Shape& shape) { return list_str(shape); }

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  checked_numel(shape, "view");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

// ---- metadata -------------------------------------------------------------------------
int64_t Tensor::size(int64_t d) const {
  SG_CHECK(dim() > 0, "size: a 0-d tensor has no dimensions (asked for dim ", d, ")");
  return shape()[static_cast<std::size_t>(wrap_dim(d, dim(), "size"))];
}

int64_t Tensor::numel() const { return shape_numel(shape()); }

bool Tensor::is_contiguous() const {
  const TensorImpl& t = checked();
  // No element, nothing to lay out: like PyTorch, any strides are contiguous then.
  for (int64_t size : t.shape)
    if (size == 0) return true;
  int64_t expected = 1;
  for (std::size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] == 1) continue;  // the stride of a size-1 dim never matters
    if (t.strides[i] != expected) return false;
    expected *= t.shape[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  const TensorImpl& t = checked();
  return static_cast<char*>(t.storage->data()) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

template <class T>
T* Tensor::data() const {
  SG_CHECK(dtype() == dtype_of<T>(), "data<", dtype_name(dtype_of<T>()), ">() on a ",
           dtype_name(dtype()), " tensor");
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int64_t* Tensor::data<int64_t>() const;

// ---- element access -------------------------------------------------------------------
namespace {
double read_host_element(const void* p, DType dtype) {
  switch (dtype) {
    case DType::Float32: return *static_cast<const float*>(p);
    case DType::Float64: return *static_cast<const double*>(p);
    case DType::Int64: return static_cast<double>(*static_cast<const int64_t*>(p));
  }
  return 0;
}
}  // namespace

double Tensor::at(const std::vector<int64_t>& index) const {
  SG_CHECK(static_cast<int64_t>(index.size()) == dim(), "at: expected ", dim(), " indices for shape ",
           shape_str(shape()), ", got ", index.size());
  check_not_capturing("reading a tensor's value (item(), at())");
  int64_t element = offset();
  for (std::size_t d = 0; d < index.size(); ++d) {
    SG_CHECK(index[d] >= 0 && index[d] < shape()[d], "at: index ", index[d], " out of range for dim ",
             d, " of size ", shape()[d], " (shape ", shape_str(shape()), ")");
    element += index[d] * strides()[d];
  }
  std::size_t elem_size = dtype_size(dtype());
  const char* base = static_cast<const char*>(storage().data()) + element * static_cast<int64_t>(elem_size);
  if (device().is_cpu()) return read_host_element(base, dtype());
  alignas(8) unsigned char host[8];
  device_interface(device().type).copy_to_host(host, base, elem_size, device().index);
  return read_host_element(host, dtype());
}

double Tensor::item() const {
  SG_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape_str(shape()));
  return at(Shape(static_cast<std::size_t>(dim()), 0));
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_not_capturing("to_vector()");
  Tensor c = to(dtype_of<T>()).to(Device::cpu()).contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

// ---- autograd flags ---------------------------------------------------------------------
bool Tensor::requires_grad() const { return checked().requires_grad || checked().grad_fn != nullptr; }

Tensor& Tensor::requires_grad_(bool value) {
  SG_CHECK(is_leaf(), "requires_grad_: only leaf tensors can change requires_grad; this one was "
                      "produced by an op (use detach() for a leaf that shares its data)");
  SG_CHECK(!value || is_floating(dtype()), "requires_grad_: only float32/float64 tensors can require "
                                           "grad, got ", dtype_name(dtype()));
  impl_->requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const { return checked().grad ? Tensor(impl_->grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined())
    SG_CHECK(g.shape() == shape() && g.dtype() == dtype() && g.device() == device(), "set_grad: expected a ",
             dtype_name(dtype()), " gradient of shape ", shape_str(shape()), " on ", device().str(), ", got ",
             dtype_name(g.dtype()), " ", shape_str(g.shape()), " on ", g.device().str());
  impl_->grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::zero_grad() const { checked(); impl_->grad = nullptr; }

void Tensor::retain_grad() const {
  SG_CHECK(requires_grad(), "retain_grad: the tensor does not require grad");
  impl_->retains_grad = true;
}

Tensor Tensor::detach() const {
  const TensorImpl& t = checked();
  return make_view(*this, t.shape, t.strides, t.offset);
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  run_backward(*this, grad_output, retain_graph);
}

void Tensor::backward_into(const std::vector<Tensor>& inputs, const Tensor& grad_output, bool retain_graph) const {
  SG_CHECK(!inputs.empty(), "backward_into(inputs): expected at least one input tensor, got none");
  run_backward(*this, grad_output, retain_graph, inputs);
}

Tensor& Tensor::set_name(std::string name) {
  checked();
  impl_->name = std::move(name);
  return *this;
}

}  // namespace sg
