// conv2d as a GEMM.  With cols = im2col(x) of shape (K, N*L), K = C*kh*kw, L = Ho*Wo,
// and Wm = weight viewed as (O, K):
//   forward   Y_t = Wm cols                      (O, N*L), then Y = Y_t as (N, O, Ho, Wo)
//   backward  dWm = G_t cols^T,  dx = col2im(Wm^T G_t),  db = sum of G over (N, Ho, Wo)
// conv_transpose2d is the same GEMMs read the other way round: its forward is conv2d's
// input-gradient, and its input-gradient is conv2d's forward.
// Below, these GEMMs are written for the whole batch: the textbook computation, which
// runs on every device. The CPU has a faster kernel for the same products
// (cpu::conv2d_forward and friends in cpu/conv.cpp: small groups of images whose columns
// stay in cache, no whole-batch permute), used when fast_kernels_for offers it and pinned
// to this computation by tests/test_fast_paths.cpp.
#include "ops/conv.h"

#include "core/autograd.h"
#include "ops/arithmetic.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/reduce.h"

namespace sg {

namespace {

void check_conv_args(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride,
                     int64_t padding, int64_t x_channels_dim_of_weight, int64_t bias_dim_of_weight) {
  SG_CHECK(x.dim() == 4, op, ": expected input of shape (N, C, H, W), got ", shape_str(x.shape()));
  SG_CHECK(weight.dim() == 4, op, ": expected a 4-d weight, got ", shape_str(weight.shape()));
  check_same_dtype_device(x, weight, op);
  SG_CHECK(stride >= 1 && padding >= 0, op, ": expected stride >= 1 and padding >= 0, got stride ", stride,
           ", padding ", padding);
  SG_CHECK(x.shape()[1] == weight.shape()[static_cast<std::size_t>(x_channels_dim_of_weight)], op, ": input has ",
           x.shape()[1], " channels but the weight ", shape_str(weight.shape()), " expects ",
           weight.shape()[static_cast<std::size_t>(x_channels_dim_of_weight)]);
  if (bias.defined()) {
    check_same_dtype_device(x, bias, op);
    SG_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[static_cast<std::size_t>(bias_dim_of_weight)], op,
             ": expected a bias of shape [", weight.shape()[static_cast<std::size_t>(bias_dim_of_weight)], "], got ",
             shape_str(bias.shape()));
  }
}

// (N, C, H, W) <-> (C, N*H*W): channels first, so that one GEMM covers the whole batch.
Tensor channels_first(const Tensor& t) {
  return t.permute({1, 0, 2, 3}).contiguous().reshape({t.shape()[1], -1});
}
Tensor batch_first(const Tensor& m, int64_t n, int64_t h, int64_t w) {
  return m.reshape({m.shape()[0], n, h, w}).permute({1, 0, 2, 3}).contiguous();
}

Tensor add_channel_bias(const Tensor& y, const Tensor& bias) {
  return bias.defined() ? map_binary(y, bias.reshape({1, -1, 1, 1}), fn::Add{}, "conv_bias") : y;
}

// The operand as the kernels read it; no graph node (the op records its own).
Tensor contiguous_copy(const Tensor& t) {
  NoGradGuard no_grad;
  return t.contiguous();
}

// ---- the textbook computation: one GEMM for the whole batch --------------------------------

// y = W cols (+ b); `columns` receives cols = im2col(x), (C*kh*kw, N*Ho*Wo).
Tensor conv2d_reference_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& geometry,
                                Tensor* columns) {
  NoGradGuard no_grad;
  Tensor cols = kernels_for(x).im2col(x, geometry);
  Tensor y_t = matmul(w.reshape({w.shape()[0], -1}), cols);  // (O, N*L)
  if (columns) *columns = cols;
  return add_channel_bias(batch_first(y_t, geometry.batch, geometry.out_h(), geometry.out_w()), bias);
}

// dx = col2im(W^T G),  dW = G cols^T,  db = sum of G over (N, Ho, Wo)
TensorList conv2d_reference_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& columns,
                                     const ConvGeometry& geometry, const std::vector<bool>& needs) {
  Tensor grad_t = channels_first(grad);  // (O, N*L)
  Tensor w_matrix = w.reshape({w.shape()[0], -1});
  Tensor dx, dw, db;
  if (needs[0]) dx = kernels_for(grad).col2im(matmul(w_matrix.t(), grad_t).contiguous(), geometry);
  if (needs[1]) {
    Tensor cols = columns.defined() ? columns : kernels_for(x).im2col(x, geometry);
    dw = matmul(grad_t, cols.t()).reshape(w.shape());
  }
  if (needs[2]) db = sum(grad, {0, 2, 3});
  return TensorList{dx, dw, db};
}

// y = col2im(W^T x_cols) (+ b): conv2d's input gradient, with x as the upstream gradient.
Tensor conv_transpose2d_reference_forward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                          const ConvGeometry& geometry) {
  NoGradGuard no_grad;
  Tensor cols = matmul(w.reshape({w.shape()[0], -1}).t(), channels_first(x));  // (Cout*kh*kw, N*H*W)
  return add_channel_bias(kernels_for(x).col2im(cols.contiguous(), geometry), bias);
}

// dx = W grad_cols (conv2d's forward),  dW = x grad_cols^T,  db = sum of G over (N, H, W)
TensorList conv_transpose2d_reference_backward(const Tensor& grad, const Tensor& x, const Tensor& w,
                                               const ConvGeometry& geometry, const std::vector<bool>& needs) {
  Tensor grad_cols = kernels_for(grad).im2col(grad.contiguous(), geometry);  // (Cout*kh*kw, N*H*W)
  Tensor dx, dw, db;
  if (needs[0])
    dx = batch_first(matmul(w.reshape({w.shape()[0], -1}), grad_cols), x.shape()[0], x.shape()[2], x.shape()[3]);
  if (needs[1]) dw = matmul(channels_first(x), grad_cols.t()).reshape(w.shape());
  if (needs[2]) db = sum(grad, {0, 2, 3});
  return TensorList{dx, dw, db};
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias, int64_t stride, int64_t padding) {
  check_conv_args("conv2d", x_in, weight_in, bias, stride, padding, 1, 0);
  ConvGeometry geometry{x_in.shape()[0],      x_in.shape()[1],      x_in.shape()[2], x_in.shape()[3],
                        weight_in.shape()[2], weight_in.shape()[3], stride,          padding};
  SG_CHECK(geometry.height + 2 * padding >= geometry.kernel_h && geometry.width + 2 * padding >= geometry.kernel_w,
           "conv2d: kernel ", geometry.kernel_h, "x", geometry.kernel_w, " is larger than the padded input ",
           shape_str(x_in.shape()));
  const Tensor x = contiguous_copy(x_in), weight = contiguous_copy(weight_in);
  // The weight gradient needs the columns again: keep them (when a graph is recorded)
  // rather than redo the im2col in the backward. saved_x still guards x against in-place edits.
  const bool keep_cols = GradMode::is_enabled() && weight_in.requires_grad();
  const FastKernels* fast = fast_kernels_with(x.device(), &FastKernels::conv2d_forward);  // the backward follows
  Tensor cols;
  Tensor y = (fast ? fast->conv2d_forward(x, weight, bias, geometry, keep_cols ? &cols : nullptr)
                   : conv2d_reference_forward(x, weight, bias, geometry, keep_cols ? &cols : nullptr))
                 .detach();
  return record("conv2d", {x_in, weight_in, bias}, y,
                [saved_x = save(x, "conv2d"), saved_w = save(weight, "conv2d"), geometry, fast,
                 saved_cols = keep_cols ? save(cols, "conv2d") : SavedTensor()](const Tensor& grad,
                                                                                const std::vector<bool>& needs) {
                  const Tensor& x = saved_x.get();  // version check: x must be as it was in the forward
                  Tensor columns = saved_cols.defined() ? saved_cols.get() : Tensor();
                  return fast ? fast->conv2d_backward(grad.contiguous(), x, saved_w.get(), columns, geometry, needs)
                              : conv2d_reference_backward(grad, x, saved_w.get(), columns, geometry, needs);
                });
}

Tensor conv_transpose2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias, int64_t stride,
                        int64_t padding) {
  check_conv_args("conv_transpose2d", x_in, weight_in, bias, stride, padding, 0, 1);
  const int64_t kh = weight_in.shape()[2], kw = weight_in.shape()[3];
  const int64_t out_h = (x_in.shape()[2] - 1) * stride - 2 * padding + kh;
  const int64_t out_w = (x_in.shape()[3] - 1) * stride - 2 * padding + kw;
  SG_CHECK(out_h > 0 && out_w > 0, "conv_transpose2d: the output would be empty (", out_h, "x", out_w,
           ") for input ", shape_str(x_in.shape()), ", kernel ", kh, "x", kw, ", stride ", stride, ", padding ",
           padding);
  // The geometry of the conv2d whose adjoint this is: its input is our output.
  ConvGeometry geometry{x_in.shape()[0], weight_in.shape()[1], out_h, out_w, kh, kw, stride, padding};
  const Tensor x = contiguous_copy(x_in), weight = contiguous_copy(weight_in);
  const FastKernels* fast = fast_kernels_with(x.device(), &FastKernels::conv_transpose2d_forward);
  Tensor y = (fast ? fast->conv_transpose2d_forward(x, weight, bias, geometry)
                   : conv_transpose2d_reference_forward(x, weight, bias, geometry))
                 .detach();
  return record("conv_transpose2d", {x_in, weight_in, bias}, y,
                [saved_x = save(x, "conv_transpose2d"), saved_w = save(weight, "conv_transpose2d"), geometry, fast](
                    const Tensor& grad, const std::vector<bool>& needs) {
                  const Tensor& x = saved_x.get();
                  const Tensor& w = saved_w.get();
                  return fast ? fast->conv_transpose2d_backward(grad.contiguous(), x, w, geometry, needs)
                              : conv_transpose2d_reference_backward(grad, x, w, geometry, needs);
                });
}

}  // namespace sg

