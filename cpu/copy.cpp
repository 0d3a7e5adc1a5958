// Copies, fills and in-place updates on the CPU: the table entries behind ops/copy.cpp's
// fill_, copy_, add_ and mul_.
#include <algorithm>

#include "core/autograd.h"
#include "cpu/backend.h"
#include "cpu/elementwise.h"
#include "kernels/pointwise.h"

namespace sg::cpu {

namespace {

// dst[i] = cast(src[i]) over dst's shape, src read through broadcast strides; one thread.
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

// Large copies are split along dim 0 across threads (each part a view: nothing is
// copied twice).
void copy(const Tensor& dst, const Tensor& src) {
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

void fill(const Tensor& dst, double value) {
  dispatch_all(dst.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* p = static_cast<T*>(dst.raw_data());
    const T v = static_cast<T>(value);
    if (dst.is_contiguous()) {
      const int64_t n = dst.numel();
      for (int64_t i = 0; i < n; ++i) p[i] = v;
    } else {
      const int64_t od = dst.dim() ? dst.strides().back() : 0;
      for_each_row<1>(dst.shape(), {dst.strides()}, {0}, [&](const std::array<int64_t, 1>& off, int64_t len) {
        for (int64_t i = 0; i < len; ++i) p[off[0] + i * od] = v;
      });
    }
  });
}

// In place when both are contiguous and of one shape; otherwise the sum is made, then
// copied into place.
void add_scaled_inplace(const Tensor& dst, const Tensor& other, double alpha) {
  dispatch_floating(dst.dtype(), "add_", [&](auto zero) {
    using T = decltype(zero);
    const T a = static_cast<T>(alpha);
    if (dst.is_contiguous() && other.is_contiguous() && other.shape() == dst.shape()) {
      T* p = static_cast<T*>(dst.raw_data());
      const T* q = static_cast<const T*>(other.raw_data());
      const int64_t n = dst.numel();
      for (int64_t i = 0; i < n; ++i) p[i] += a * q[i];
    } else {
      copy(dst, map_binary(dst, other, dst.shape(), fn::AddScaled{alpha}, "add_"));
    }
  });
}

void scale_inplace(const Tensor& dst, double factor) {
  dispatch_floating(dst.dtype(), "mul_", [&](auto zero) {
    using T = decltype(zero);
    const T f = static_cast<T>(factor);
    if (dst.is_contiguous()) {
      T* p = static_cast<T*>(dst.raw_data());
      const int64_t n = dst.numel();
      for (int64_t i = 0; i < n; ++i) p[i] *= f;
    } else {
      copy(dst, cpu::map_unary(dst, fn::Scale{factor}, "mul_"));
    }
  });
}

}  // namespace sg::cpu
