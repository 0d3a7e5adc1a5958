#pragma once
// Operator norms of convolutions: the largest singular value of the linear map
// x -> conv2d(x, W) at a given input size, not of W reshaped to a matrix.
//
// certified_conv_norm: an upper bound that is guaranteed (Sedghi, Gupta, Long, ICLR 2019):
//   1. A circular (periodic) convolution on an N x N canvas is diagonalised by the 2-D
//      DFT: at each frequency f it multiplies the input's channel vector by the
//      cout x cin matrix K(f) = sum over taps (a, b) of W[:, :, a, b] e^{2 pi i (a f1 + b f2)/N}.
//      Its norm is exactly max over f of sigma_max(K(f)).
//   2. A stride-s convolution on N x N (s divides N) is a stride-1 convolution on
//      (N/s) x (N/s) of the s*s polyphase components of the input: cin*s*s channels,
//      kernel ceil(k/s), tap (a, b) at phase (a mod s, b mod s), offset (a div s, b div s).
//      Splitting the input into phases is a permutation, so the norm is unchanged.
//   3. The zero-padded convolution at n x n is the circular one on a canvas with
//      N >= n + max(p, k - 1 - p) (rounded up to a multiple of s), with the input
//      embedded and the output restricted: both partial isometries, so
//      sigma_zero(n) <= sigma_circular(N).
//   4. A transposed convolution is the adjoint of the convolution with the same
//      weight tensor read as (out, in, k, k), at the transposed conv's output size:
//      the same norm.
// conv_operator_power_iteration: power iteration through the zero-padded conv itself
// (a lower estimate of the true norm that converges to it).
#include <utility>

#include "core/tensor.h"

namespace sg {

// A convolution as its operator norm sees it.
struct ConvNormGeometry {
  int64_t stride = 1, padding = 0;
  int64_t input_height = 0, input_width = 0;  // what the layer's input is (for a transposed conv: its input)
  bool transposed = false;                    // weight is a ConvTranspose2d's (in, out, kh, kw)
};

// The exact norm of the circular stride-s convolution with `weight` (out, in, kh, kw)
// on a canvas_h x canvas_w input (both divisible by stride), in float64 on the host.
double circular_conv_norm(const Tensor& weight, int64_t stride, int64_t canvas_h, int64_t canvas_w);

// The canvas (N_h, N_w) whose circular norm bounds the zero-padded conv at `geometry`'s input.
std::pair<int64_t, int64_t> certified_canvas(const Tensor& weight, const ConvNormGeometry& geometry);

// sigma_circular on certified_canvas: >= the zero-padded operator norm at geometry's input, as a
// 0-d tensor of weight's dtype and device. Differentiable: d sigma / dW is the gradient
// of sigma_max(K(f*)) at the maximising frequency f*, Re(conj(u) v^T e^{2 pi i (a f1* + b f2*)/N})
// for its top singular pair (u, v), mapped back through the polyphase split.
Tensor certified_conv_norm(const Tensor& weight, const ConvNormGeometry& geometry);

// The zero-padded operator x -> conv(x, weight) at geometry's input (conv2d, or conv_transpose2d
// when geometry.transposed), and its adjoint. x is (N, C, H, W).
Tensor conv_norm_apply(const Tensor& weight, const ConvNormGeometry& geometry, const Tensor& x);
Tensor conv_norm_adjoint(const Tensor& weight, const ConvNormGeometry& geometry, const Tensor& y);
// The shapes of the operator's input (1, C, H, W) and output.
Shape conv_norm_input_shape(const Tensor& weight, const ConvNormGeometry& geometry);
Shape conv_norm_output_shape(const Tensor& weight, const ConvNormGeometry& geometry);

// `iterations` power-iteration steps on the operator (u <- N(A v), v <- N(A^T u)), in
// place and without a graph; v has the input shape, u the output shape. Returns
// sigma = <u, A v> of the final pair: a lower estimate of the operator norm.
double conv_operator_power_iteration(const Tensor& weight, const ConvNormGeometry& geometry, Tensor& u, Tensor& v,
                                     int iterations, double eps = 1e-12);

}  // namespace sg
