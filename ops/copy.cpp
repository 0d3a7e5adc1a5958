// Copies, conversions and in-place writes: fill_, copy_, add_, mul_, contiguous,
// clone, to(dtype), to(device). In-place writes are not differentiable: they refuse
// tensors that take part in autograd, and bump the storage version so that a
// backward that saved the old values notices (core/autograd.h, SavedTensor).
#include <cstring>

#include "core/autograd.h"
#include "core/parallel.h"
#include "ops/arithmetic.h"
#include "ops/elementwise.h"

namespace sg {

namespace {

void check_inplace(const Tensor& t, const char* op) {
  SG_CHECK(!(GradMode::is_enabled() && t.requires_grad()), op,
           ": in-place write to a tensor that requires grad (shape ", shape_str(t.shape()),
           "); do it under NoGradGuard, or on a detach()ed tensor");
}

void strided_copy_serial(const Tensor& dst, const Tensor& src);

// dst[i] = cast(src[i]) over dst's shape; src is read through broadcast strides. Large
// copies are split along dim 0 across threads (each part a view: nothing is copied twice).
void strided_copy_cpu(const Tensor& dst, const Tensor& src) {
  constexpr int64_t kCopyGrain = 1 << 16;
  if (dst.dim() == 0 || dst.numel() < 2 * kCopyGrain || dst.shape()[0] < 2) return strided_copy_serial(dst, src);
  Tensor source = make_view(src, dst.shape(), broadcast_strides(src, dst.shape()), src.offset());
  const int64_t per_row = dst.numel() / dst.shape()[0];
  parallel_for(dst.shape()[0], std::max<int64_t>(1, kCopyGrain / std::max<int64_t>(per_row, 1)),
               [&](int64_t begin, int64_t end) {
                 NoGradGuard no_grad;
                 strided_copy_serial(dst.slice(0, begin, end), source.slice(0, begin, end));
               });
}

void strided_copy_serial(const Tensor& dst, const Tensor& src) {
  Shape src_strides = broadcast_strides(src, dst.shape());
  dispatch_all(dst.dtype(), [&](auto dst_zero) {
    using D = decltype(dst_zero);
    dispatch_all(src.dtype(), [&](auto src_zero) {
      using S = decltype(src_zero);
      D* out = static_cast<D*>(dst.raw_data());
      const S* in = static_cast<const S*>(src.raw_data());
      if (dst.is_contiguous() && src.is_contiguous() && src.shape() == dst.shape()) {
        const int64_t n = dst.numel();
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<D>(in[i]);
        return;
      }
      const int64_t od = dst.dim() ? dst.strides().back() : 0, id = dst.dim() ? src_strides.back() : 0;
      for_each_row<2>(dst.shape(), {dst.strides(), src_strides}, {0, 0},
                      [&](const std::array<int64_t, 2>& off, int64_t len) {
                        D* o = out + off[0];
                        const S* x = in + off[1];
                        if (od == 1 && id == 1) {
                          for (int64_t i = 0; i < len; ++i) o[i] = static_cast<D>(x[i]);
                        } else {
                          for (int64_t i = 0; i < len; ++i) o[i * od] = static_cast<D>(x[i * id]);
                        }
                      });
    });
  });
}

}  // namespace

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  if (device().is_cpu()) {
    dispatch_all(dtype(), [&](auto zero) {
      using T = decltype(zero);
      T* p = static_cast<T*>(raw_data());
      const T v = static_cast<T>(value);
      if (is_contiguous()) {
        const int64_t n = numel();
        for (int64_t i = 0; i < n; ++i) p[i] = v;
      } else {
        const int64_t od = dim() ? strides().back() : 0;
        for_each_row<1>(shape(), {strides()}, {0}, [&](const std::array<int64_t, 1>& off, int64_t len) {
          for (int64_t i = 0; i < len; ++i) p[off[0] + i * od] = v;
        });
      }
    });
  } else {
    cuda::fill(*this, value);
  }
  storage().bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  SG_CHECK(broadcast_shapes(src.shape(), shape(), "copy_") == shape(), "copy_: source of shape ",
           shape_str(src.shape()), " does not broadcast to the destination's shape ", shape_str(shape()));
  if (device().is_cpu() && src.device().is_cpu()) {
    strided_copy_cpu(*this, src);
  } else if (device() == src.device()) {
    cuda::copy(*this, src);
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
    if (staged.device().is_cpu())
      device_interface(device().type).copy_from_host(landing.raw_data(), staged.raw_data(), nbytes, device().index);
    else if (device().is_cpu())
      device_interface(staged.device().type).copy_to_host(landing.raw_data(), staged.raw_data(), nbytes, staged.device().index);
    else
      device_interface(device().type).copy_within(landing.raw_data(), staged.raw_data(), nbytes, device().index);
    if (!landing.same(*this)) {  // place the contiguous copy into the strided destination
      if (device().is_cpu()) strided_copy_cpu(*this, landing);
      else cuda::copy(*this, landing);
    }
  }
  storage().bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  check_same_dtype_device(*this, other, "add_");
  SG_CHECK(broadcast_shapes(other.shape(), shape(), "add_") == shape(), "add_: operand of shape ",
           shape_str(other.shape()), " does not broadcast to ", shape_str(shape()));
  if (device().is_cuda()) {
    cuda::copy(*this, map_binary(*this, other, fn::AddScaled{alpha}, "add_"));
    storage().bump_version();
    return *this;
  }
  check_cpu(*this, "add_");
  dispatch_floating(dtype(), "add_", [&](auto zero) {
    using T = decltype(zero);
    const T a = static_cast<T>(alpha);
    if (is_contiguous() && other.is_contiguous() && other.shape() == shape()) {
      T* p = static_cast<T*>(raw_data());
      const T* q = static_cast<const T*>(other.raw_data());
      const int64_t n = numel();
      for (int64_t i = 0; i < n; ++i) p[i] += a * q[i];
    } else {
      Tensor sum = map_binary(*this, other, fn::AddScaled{alpha}, "add_");
      strided_copy_cpu(*this, sum);
    }
  });
  storage().bump_version();
  return *this;
}

Tensor& Tensor::mul_(double factor) {
  check_inplace(*this, "mul_");
  if (device().is_cuda()) {
    cuda::copy(*this, map_unary(*this, fn::Scale{factor}, "mul_"));
    storage().bump_version();
    return *this;
  }
  check_cpu(*this, "mul_");
  dispatch_floating(dtype(), "mul_", [&](auto zero) {
    using T = decltype(zero);
    const T f = static_cast<T>(factor);
    if (is_contiguous()) {
      T* p = static_cast<T*>(raw_data());
      const int64_t n = numel();
      for (int64_t i = 0; i < n; ++i) p[i] *= f;
    } else {
      strided_copy_cpu(*this, map_unary(*this, fn::Scale{factor}, "mul_"));
    }
  });
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
