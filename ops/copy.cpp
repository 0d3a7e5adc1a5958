// Copies, conversions and in-place writes: fill_, copy_, add_, mul_, contiguous,
// clone, to(dtype), to(device). In-place writes are not differentiable: they refuse
// tensors that take part in autograd, and bump the storage version so that a
// backward that saved the old values notices (core/autograd.h, SavedTensor).
#include "core/autograd.h"
#include "ops/arithmetic.h"
#include "ops/elementwise.h"

namespace sg {

namespace {

void check_inplace(const Tensor& t, const char* op) {
  SG_CHECK(!(GradMode::is_enabled() && t.requires_grad()), op,
           ": in-place write to a tensor that requires grad (shape ", shape_str(t.shape()),
           "); do it under NoGradGuard, or on a detach()ed tensor");
}

}  // namespace

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  kernels_for(*this).fill(*this, value);
  storage().bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  SG_CHECK(broadcast_shapes(src.shape(), shape(), "copy_") == shape(), "copy_: source of shape ",
           shape_str(src.shape()), " does not broadcast to the destination's shape ", shape_str(shape()));
  if (device() == src.device()) {
    kernels_for(*this).copy(*this, src);
  } else {
    // Across devices: make a contiguous source of the destination's shape and dtype on
    // the source's device, move the bytes, then place them.
    NoGradGuard no_grad;
    Tensor staged = src.detach();
    if (staged.dtype() != dtype()) staged = staged.to(dtype());
    if (staged.shape() != shape()) staged = staged.expand(shape());
    staged = staged.contiguous();
    Tensor landing = is_contiguous() ? *this : empty(shape(), {dtype(), device(), false});
    std::size_t nbytes = static_cast<std::size_t>(numel()) * dtype_size(dtype());
    copy_bytes(landing.raw_data(), device(), staged.raw_data(), staged.device(), nbytes);
    if (!landing.same(*this)) kernels_for(*this).copy(*this, landing);  // into the strided destination
  }
  storage().bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  check_same_dtype_device(*this, other, "add_");
  SG_CHECK(broadcast_shapes(other.shape(), shape(), "add_") == shape(), "add_: operand of shape ",
           shape_str(other.shape()), " does not broadcast to ", shape_str(shape()));
  kernels_for(*this).add_scaled_inplace(*this, other, alpha);
  storage().bump_version();
  return *this;
}

Tensor& Tensor::mul_(double factor) {
  check_inplace(*this, "mul_");
  kernels_for(*this).scale_inplace(*this, factor);
  storage().bump_version();
  return *this;
}

// ---- differentiable copies -----------------------------------------------------------------

// out = x (a fresh contiguous copy)       dx = g
Tensor Tensor::clone() const {
  Tensor out = empty(shape(), {dtype(), device(), false});
  {
    NoGradGuard no_grad;
    out.copy_(*this);
  }
  return record("clone", {*this}, out, [](const Tensor& g, const std::vector<bool>&) { return TensorList{g}; });
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

// out = x in another dtype                dx = g converted back
Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  SG_CHECK(!(requires_grad() && !is_floating(target)), "to: cannot convert a tensor that requires grad to ",
           dtype_name(target));
  Tensor out = empty(shape(), {target, device(), false});
  {
    NoGradGuard no_grad;
    out.copy_(*this);
  }
  DType source = dtype();
  return record("to_dtype", {*this}, out,
                [source](const Tensor& g, const std::vector<bool>&) { return TensorList{g.to(source)}; });
}

// out = x on another device               dx = g moved back
Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape(), {dtype(), target, false});
  {
    NoGradGuard no_grad;
    out.copy_(*this);
  }
  Device source = device();
  return record("to_device", {*this}, out,
                [source](const Tensor& g, const std::vector<bool>&) { return TensorList{g.to(source)}; });
}

}  // namespace sg
