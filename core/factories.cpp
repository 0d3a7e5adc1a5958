// Factories: tensors made from a shape and a value, a range, or host values.
#include <cmath>

#include "core/captured_step.h"
#include "core/tensor.h"

namespace sg {

namespace {
void check_shape(const Shape& shape, const char* op) { checked_numel(shape, op); }

// Makes a CPU tensor from host values converted to `options.dtype`, then moves it.
template <class Src>
Tensor from_host(const std::vector<Src>& values, const Shape& shape, TensorOptions options) {
  // Refused on every device, so that a CPU run of a captured step finds what a GPU
  // recording would: values made on the host are not part of the device's work.
  check_not_capturing("a tensor made from host values (from_vector, tensor(), a random draw)");
  check_shape(shape, "from_vector");
  SG_CHECK(shape_numel(shape) == static_cast<int64_t>(values.size()), "from_vector: ", values.size(),
           " values do not fill shape ", shape_str(shape), " (", shape_numel(shape), " elements)");
  Tensor t = empty(shape, {options.dtype, Device::cpu(), false});
  auto fill = [&](auto* out) {
    using T = std::remove_pointer_t<decltype(out)>;
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = static_cast<T>(values[i]);
  };
  switch (options.dtype) {
    case DType::Float32: fill(t.data<float>()); break;
    case DType::Float64: fill(t.data<double>()); break;
    case DType::Int64: fill(t.data<int64_t>()); break;
  }
  if (!options.device.is_cpu()) t = t.to(options.device);
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}
}  // namespace

Tensor empty(const Shape& shape, TensorOptions options) {
  const std::size_t element_size = dtype_size(options.dtype);
  const auto nbytes = static_cast<std::size_t>(checked_numel(shape, "empty", element_size)) * element_size;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(nbytes, options.device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = options.dtype;
  Tensor t(std::move(impl));
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
  bool requires_grad = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  t.fill_(value);
  if (requires_grad) t.requires_grad_(true);
  return t;
}

Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), {t.dtype(), t.device(), false}); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {t.dtype(), t.device(), false}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {t.dtype(), t.device(), false}); }

Tensor arange(double start, double end, double step, TensorOptions options) {
  SG_CHECK(step != 0, "arange: step must be non-zero");
  SG_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step), "arange: expected finite start, end "
           "and step, got start ", start, ", end ", end, ", step ", step);
  const double steps = std::ceil((end - start) / step);
  SG_CHECK(steps >= 0, "arange: expected the range [", start, ", ", end, ") to be walkable with step ", step);
  // Far more elements than any memory holds; the cast below would be undefined.
  constexpr double kMaxElements = 1ull << 48;
  SG_CHECK(steps <= kMaxElements, "arange: [", start, ", ", end, ") with step ", step, " has ", steps,
           " elements, more than the 2^48 allowed");
  auto count = static_cast<std::size_t>(steps);
  std::vector<double> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = start + static_cast<double>(i) * step;
  return from_host(values, {static_cast<int64_t>(count)}, options);
}

Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions options) {
  return from_host(values, shape, options);
}
Tensor from_vector(const std::vector<float>& values, const Shape& shape, TensorOptions options) {
  return from_host(values, shape, options);
}
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape, TensorOptions options) {
  return from_host(values, shape, options);
}
Tensor from_vector(const std::vector<double>& values, TensorOptions options) {
  return from_host(values, {static_cast<int64_t>(values.size())}, options);
}
Tensor from_vector(const std::vector<float>& values, TensorOptions options) {
  return from_host(values, {static_cast<int64_t>(values.size())}, options);
}
Tensor from_vector(const std::vector<int64_t>& values, TensorOptions options) {
  return from_host(values, {static_cast<int64_t>(values.size())}, options);
}

Tensor tensor(std::initializer_list<double> values, TensorOptions options) {
  return from_host(std::vector<double>(values), {static_cast<int64_t>(values.size())}, options);
}

Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, TensorOptions options) {
  std::vector<double> values;
  std::size_t width = rows.size() ? rows.begin()->size() : 0;
  for (const auto& row : rows) {
    SG_CHECK(row.size() == width, "tensor: ragged rows (expected every row to have ", width,
             " values, got one with ", row.size(), ")");
    values.insert(values.end(), row.begin(), row.end());
  }
  return from_host(values, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(width)}, options);
}

}  // namespace sg
