#pragma once
// Tensor: an n-dimensional view (shape, strides, offset) over shared Storage, plus
// the autograd bookkeeping of that view. A Tensor is a cheap handle; copies share
// the same TensorImpl. Views (reshape, transpose, slice, expand...) share storage.
//
// Where things live:
//   metadata, element access, autograd flags ..... core/tensor.cpp
//   backward(), the graph, saved tensors .......... core/autograd.{h,cpp}
//   every op (forward + backward side by side) .... ops/<family>.cpp; ops/ops.h lists
//     which op is in which file. The free functions are declared in ops/<family>.h, and
//     ops/ops.h includes every one of those headers (ops/spectral_norm.h and
//     ops/conv_norm.h among them). The view and copy ops that
//     are members below (reshape, transpose, select, ..., clone, to, fill_, copy_, ...)
//     are defined in ops/shape.cpp and ops/copy.cpp; the math shortcuts (sum, relu, ...)
//     in ops/tensor_methods.cpp forward to the free functions.
//   factories (zeros, ones, full, arange, tensor) .. declared below, core/factories.cpp;
//     the random ones (rand, randn, uniform, normal) in core/generator.h
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/storage.h"

namespace sg {

using Shape = std::vector<int64_t>;
class Node;
class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements, may be 0 (expanded) or any order (permuted)
  int64_t offset = 0;  // in elements from the start of storage
  DType dtype = DType::Float32;

  bool requires_grad = false;              // set by the user on leaves
  std::shared_ptr<Node> grad_fn;           // the op that produced this tensor; null for leaves
  std::shared_ptr<TensorImpl> grad;        // accumulated gradient (leaves, or after retain_grad)
  std::weak_ptr<Node> grad_accumulator;    // a leaf's AccumulateGrad node while a graph holds it
  bool retains_grad = false;               // non-leaf asked to keep its .grad
  std::string name;                        // optional label for printing graphs
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

  // --- metadata -------------------------------------------------------------
  const Shape& shape() const { return checked().shape; }
  const Shape& strides() const { return checked().strides; }
  int64_t offset() const { return checked().offset; }
  int64_t dim() const { return static_cast<int64_t>(checked().shape.size()); }
  int64_t size(int64_t dim) const;  // negative dims count from the end
  int64_t numel() const;
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  bool is_contiguous() const;
  Storage& storage() const { return *checked().storage; }

  // Pointer to the first element (offset applied). T must match dtype().
  template <class T> T* data() const;
  void* raw_data() const;

  // --- element access (tests, printing); copies from the device when needed --
  double item() const;                                // one-element tensors only
  double at(const std::vector<int64_t>& index) const;  // any dtype, read as double
  template <class T> std::vector<T> to_vector() const;  // row-major values

  // --- autograd ---------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool value = true);  // leaves only
  bool is_leaf() const { return checked().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return checked().grad_fn; }
  Tensor grad() const;               // undefined Tensor when none was accumulated yet
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;            // drops the accumulated gradient
  void retain_grad() const;          // keep .grad on a non-leaf after backward
  Tensor detach() const;             // same storage, no history, requires_grad false
  // Runs the backward pass from this tensor (core/autograd.cpp).
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;
  // The same, accumulating only into the .grad of `inputs` (leaves that require grad;
  // e.g. a module's parameters()): the rest of the graph's gradients are not computed,
  // and no other .grad is written (retain_grad() results included).
  // PyTorch's backward(inputs=...); a name of its own, since backward({x}) would read
  // {x} as the output gradient.
  void backward_into(const std::vector<Tensor>& inputs, const Tensor& grad_output = Tensor(),
                     bool retain_graph = false) const;
  Tensor& set_name(std::string name);
  const std::string& name() const { return checked().name; }

  // --- conversions and copies (ops/copy.cpp) ---------------------------------
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;       // always a fresh contiguous copy, differentiable

  // --- views (ops/shape.cpp) --------------------------------------------------
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy
  Tensor view(const Shape& shape) const;     // a view or an error
  Tensor permute(const Shape& order) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // 2-D transpose
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;  // slice and drop the dim
  Tensor expand(const Shape& shape) const;
  Tensor squeeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // --- math shortcuts (each calls the op of the same name in ops/) -------------
  Tensor add(const Tensor& other) const;  // differentiable this + other
  Tensor sum() const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor pow(double exponent) const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor matmul(const Tensor& other) const;

  // --- in-place writes: no autograd, bump the storage version (ops/copy.cpp) ----
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);                   // broadcasts src, casts dtype
  Tensor& add_(const Tensor& other, double alpha = 1.0);  // this += alpha * other
  Tensor& mul_(double factor);

 private:
  const TensorImpl& checked() const {
    SG_CHECK(impl_, "operation on an undefined Tensor (expected a tensor, got an empty handle)");
    return *impl_;
  }
  Tensor view_as_named(const Shape& shape, const char* op) const;  // view(), errors naming `op`
  std::shared_ptr<TensorImpl> impl_;
};

// --- helpers shared by ops ----------------------------------------------------
// The element count of `shape`, or an sg::Error naming `op` and the shape when a size is
// negative or the count (times element_size bytes, and every contiguous stride) does
// not fit in an int64. shape_numel is checked_numel(shape, "shape").
int64_t checked_numel(const Shape& shape, const char* op, std::size_t element_size = 1);
int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);  // -1 -> ndim-1, range-checked
std::string shape_str(const Shape& shape);
// A new tensor whose TensorImpl shares `base`'s storage with other geometry (no autograd).
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

// --- factories (core/factories.cpp) --------------------------------------------
struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = Device::cpu();
  bool requires_grad = false;
};
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {});
Tensor scalar_tensor(double value, TensorOptions options = {});
// Values in row-major order, in the given shape (Shape{} is a 0-d scalar), or 1-D.
Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions options = {});
Tensor from_vector(const std::vector<float>& values, const Shape& shape, TensorOptions options = {});
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape, TensorOptions options = {});
Tensor from_vector(const std::vector<double>& values, TensorOptions options = {});
Tensor from_vector(const std::vector<float>& values, TensorOptions options = {});
Tensor from_vector(const std::vector<int64_t>& values, TensorOptions options = {});
Tensor tensor(std::initializer_list<double> values, TensorOptions options = {});
Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, TensorOptions options = {});

// Printing: values (abbreviated past 1000 elements), shape, dtype, device, grad_fn.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace sg
