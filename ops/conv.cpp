// conv2d as a GEMM.  With cols = im2col(x) of shape (K, N*L), K = C*kh*kw, L = Ho*Wo,
// and Wm = weight viewed as (O, K):
//   forward   Y_t = Wm cols                      (O, N*L), then Y = Y_t as (N, O, Ho, Wo)
//   backward  dWm = G_t cols^T,  dx = col2im(Wm^T G_t),  db = sum of G over (N, Ho, Wo)
// conv_transpose2d is the same GEMMs read the other way round: its forward is conv2d's
// input-gradient, and its input-gradient is conv2d's forward.
// On the CPU the same products run on small groups of images (ops/conv_cpu.cpp: the
// columns stay in cache, no whole-batch permute); on a GPU as the whole-batch GEMMs below.
#include "ops/conv.h"

#include "core/autograd.h"
#include "ops/arithmetic.h"
#include "ops/conv_cpu.h"
#include "ops/elementwise.h"
#include "ops/im2col.h"
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

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding) {
  check_conv_args("conv2d", x, weight, bias, stride, padding, 1, 0);
  const int64_t n = x.shape()[0], out_channels = weight.shape()[0];
  ConvGeometry g{n, x.shape()[1], x.shape()[2], x.shape()[3], weight.shape()[2], weight.shape()[3], stride, padding};
  SG_CHECK(g.height + 2 * padding >= g.kernel_h && g.width + 2 * padding >= g.kernel_w,
           "conv2d: kernel ", g.kernel_h, "x", g.kernel_w, " is larger than the padded input ", shape_str(x.shape()));
  // The weight gradient needs the columns again: keep them (when a graph is recorded)
  // rather than redo the im2col in the backward. saved_x still guards x against in-place edits.
  const bool keep_cols = GradMode::is_enabled() && weight.requires_grad();
  const bool on_cpu = x.device().is_cpu();
  Tensor y, cols;
  if (on_cpu) {
    y = conv2d_forward_cpu(x.contiguous(), weight.contiguous(), bias, g, keep_cols ? &cols : nullptr);
  } else {
    NoGradGuard no_grad;
    cols = im2col(x.contiguous(), g);
    Tensor y_t = matmul(weight.reshape({out_channels, -1}), cols);
    y = add_channel_bias(batch_first(y_t, n, g.out_h(), g.out_w()), bias).detach();
  }
  return record("conv2d", {x, weight, bias}, y,
                [saved_x = save(x, "conv2d"), saved_w = save(weight, "conv2d"), g, out_channels,
                 saved_cols = keep_cols ? save(cols, "conv2d") : SavedTensor()](
                    const Tensor& grad, const std::vector<bool>& needs) {
                  const Tensor& w = saved_w.get();
                  if (grad.device().is_cpu()) {
                    const Tensor& x = saved_x.get();  // version check: x must be as it was in the forward
                    Tensor columns = saved_cols.defined() ? saved_cols.get() : Tensor();
                    return conv2d_backward_cpu(grad, x.contiguous(), w.contiguous(), columns, g, needs);
                  }
                  Tensor g_t = channels_first(grad);  // (O, N*L)
                  Tensor dx, dw, db;
                  if (needs[0]) dx = col2im(matmul(w.reshape({out_channels, -1}).t(), g_t), g);
                  if (needs[1]) {
                    saved_x.get();  // version check: x must be as it was in the forward
                    Tensor columns = saved_cols.defined() ? saved_cols.get() : im2col(saved_x.get().contiguous(), g);
                    dw = matmul(g_t, columns.t()).reshape(w.shape());
                  }
                  if (needs[2]) db = sum(grad, {0, 2, 3});
                  return TensorList{dx, dw, db};
                });
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding) {
  check_conv_args("conv_transpose2d", x, weight, bias, stride, padding, 0, 1);
  const int64_t n = x.shape()[0], in_channels = weight.shape()[0], out_channels = weight.shape()[1];
  const int64_t kh = weight.shape()[2], kw = weight.shape()[3];
  const int64_t out_h = (x.shape()[2] - 1) * stride - 2 * padding + kh;
  const int64_t out_w = (x.shape()[3] - 1) * stride - 2 * padding + kw;
  SG_CHECK(out_h > 0 && out_w > 0, "conv_transpose2d: the output would be empty (", out_h, "x", out_w,
           ") for input ", shape_str(x.shape()), ", kernel ", kh, "x", kw, ", stride ", stride, ", padding ", padding);
  // The geometry of the conv2d whose adjoint this is: its input is our output.
  ConvGeometry g{n, out_channels, out_h, out_w, kh, kw, stride, padding};
  Tensor y;
  if (x.device().is_cpu()) {
    y = conv_transpose2d_forward_cpu(x.contiguous(), weight.contiguous(), bias, g);
  } else {
    NoGradGuard no_grad;
    Tensor cols = matmul(weight.reshape({in_channels, -1}).t(), channels_first(x));  // (Cout*kh*kw, N*H*W)
    y = add_channel_bias(col2im(cols, g), bias).detach();
  }
  return record("conv_transpose2d", {x, weight, bias}, y,
                [saved_x = save(x, "conv_transpose2d"), saved_w = save(weight, "conv_transpose2d"), g, in_channels](
                    const Tensor& grad, const std::vector<bool>& needs) {
                  const Tensor& x = saved_x.get();
                  const Tensor& w = saved_w.get();
                  if (grad.device().is_cpu()) return conv_transpose2d_backward_cpu(grad, x, w.contiguous(), g, needs);
                  Tensor grad_cols = im2col(grad.contiguous(), g);  // (Cout*kh*kw, N*H*W)
                  Tensor dx, dw, db;
                  if (needs[0])
                    dx = batch_first(matmul(w.reshape({in_channels, -1}), grad_cols), x.shape()[0], x.shape()[2],
                                     x.shape()[3]);
                  if (needs[1]) dw = matmul(channels_first(x), grad_cols.t()).reshape(w.shape());
                  if (needs[2]) db = sum(grad, {0, 2, 3});
                  return TensorList{dx, dw, db};
                });
}

}  // namespace sg
