// Pooling. Windows (kernel k, stride s, padding p) of each (n, c) plane:
//   max: y = max of the window; dx at the argmax += g
//   avg: y = sum of the window / k^2; every pixel of the window += g / k^2
// Kernels: cpu/pool.cpp, cuda/pool.cu.
#include "ops/pool.h"

#include "core/autograd.h"
#include "ops/elementwise.h"

namespace sg {

namespace {

PoolGeometry pool_geometry(const char* op, const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  SG_CHECK(x.dim() == 4, op, ": expected input of shape (N, C, H, W), got ", shape_str(x.shape()));
  if (stride < 0) stride = kernel;
  SG_CHECK(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel, op,
           ": expected kernel >= 1, stride >= 1 and 0 <= padding <= kernel/2, got kernel ", kernel, ", stride ",
           stride, ", padding ", padding);
  const int64_t height = x.shape()[2], width = x.shape()[3];
  SG_CHECK(height + 2 * padding >= kernel && width + 2 * padding >= kernel, op, ": kernel ", kernel,
           " does not fit the padded input ", shape_str(x.shape()), " (padding ", padding, ")");
  return {x.shape()[0] * x.shape()[1], height, width, kernel, stride, padding,
          (height + 2 * padding - kernel) / stride + 1, (width + 2 * padding - kernel) / stride + 1};
}

}  // namespace

Tensor max_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride, int64_t padding) {
  PoolGeometry geometry = pool_geometry("max_pool2d", x_in, kernel, stride, padding);
  Tensor x = x_in.contiguous();
  Shape out_shape{x.shape()[0], x.shape()[1], geometry.out_h, geometry.out_w};
  Tensor y = empty(out_shape, {x.dtype(), x.device(), false});
  Tensor argmax = empty(out_shape, {DType::Int64, x.device(), false});  // flat input index of each maximum
  kernels_for(x).max_pool_forward(x, y, argmax, geometry);
  Shape in_shape = x.shape();
  auto backward = [argmax, in_shape, geometry](const Tensor& grad_output, const std::vector<bool>&) {
    Tensor grad = grad_output.contiguous();
    Tensor dx = zeros(in_shape, {grad.dtype(), grad.device(), false});
    kernels_for(grad).max_pool_backward(grad, argmax, dx, geometry);
    return TensorList{dx};
  };
  return record("max_pool2d", {x_in}, y, backward);
}

Tensor avg_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride, int64_t padding) {
  PoolGeometry geometry = pool_geometry("avg_pool2d", x_in, kernel, stride, padding);
  Tensor x = x_in.contiguous();
  Shape out_shape{x.shape()[0], x.shape()[1], geometry.out_h, geometry.out_w};
  Tensor y = empty(out_shape, {x.dtype(), x.device(), false});
  kernels_for(x).avg_pool_forward(x, y, geometry);
  Shape in_shape = x.shape();
  return record("avg_pool2d", {x_in}, y, [geometry, in_shape](const Tensor& grad_output, const std::vector<bool>&) {
    Tensor grad = grad_output.contiguous();
    Tensor dx = zeros(in_shape, {grad.dtype(), grad.device(), false});
    kernels_for(grad).avg_pool_backward(grad, dx, geometry);
    return TensorList{dx};
  });
}

}  // namespace sg
