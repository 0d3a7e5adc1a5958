// Copies, fills and in-place updates on the GPU: the CUDA side of cpu/copy.cpp.
#include "cuda/backend.h"
#include "cuda/context.cuh"
#include "kernels/dtype_dispatch.h"
#include "kernels/pointwise.h"

namespace sg::cuda {

namespace {

template <class D, class S>
__global__ void copy_kernel(D* dst, const S* src, int64_t n, Geometry g) {
  SG_CUDA_LOOP(i, n) dst[offset_of(g, 0, i)] = static_cast<D>(src[offset_of(g, 1, i)]);
}

template <class T>
__global__ void fill_kernel(T* dst, T value, int64_t n, Geometry g) {
  SG_CUDA_LOOP(i, n) dst[offset_of(g, 0, i)] = value;
}


}  // namespace

void copy(const Tensor& dst, const Tensor& src) {
  SG_CHECK(dst.device() == src.device(), "copy: expected both tensors on ", dst.device().str(), ", got ",
           src.device().str());
  const int64_t n = dst.numel();
  if (n == 0) return;
  Shape src_strides = broadcast_strides(src, dst.shape());
  const Shape* strides[] = {&dst.strides(), &src_strides};
  Geometry g = make_geometry(dst.shape(), strides, 2, "copy");
  dispatch_all(dst.dtype(), [&](auto d) {
    dispatch_all(src.dtype(), [&](auto s) {
      using D = decltype(d);
      using S = decltype(s);
      copy_kernel<<<blocks(n), kThreads, 0, stream()>>>(static_cast<D*>(dst.raw_data()),
                                                        static_cast<const S*>(src.raw_data()), n, g);
    });
  });
  check_launch("copy");
}

void fill(const Tensor& dst, double value) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  const Shape* strides[] = {&dst.strides()};
  Geometry g = make_geometry(dst.shape(), strides, 1, "fill");
  dispatch_all(dst.dtype(), [&](auto zero) {
    using T = decltype(zero);
    fill_kernel<<<blocks(n), kThreads, 0, stream()>>>(static_cast<T*>(dst.raw_data()), static_cast<T>(value), n, g);
  });
  check_launch("fill");
}

// The sum as a new tensor, then copied into place: dst may be any view.
void add_scaled_inplace(const Tensor& dst, const Tensor& other, double alpha) {
  copy(dst, cuda::map_binary(dst, other, dst.shape(), fn::AddScaled{alpha}, "add_"));
}

void scale_inplace(const Tensor& dst, double factor) {
  copy(dst, cuda::map_unary(dst.contiguous(), fn::Scale{factor}, "mul_"));
}

}  // namespace sg::cuda
