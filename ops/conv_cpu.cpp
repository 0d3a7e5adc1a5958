#include "ops/conv_cpu.h"

#include <algorithm>

#include "core/parallel.h"
#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/reduce.h"

namespace sg {

namespace {

// One part of the batch per thread (fewer for a small batch): fn(part, n_begin, n_end).
// A part is a fixed range of images, so each can own a partial weight gradient. GEMMs
// called inside a part run single-threaded (parallel regions do not nest).
int64_t batch_parts(int64_t batch) { return std::max<int64_t>(1, std::min<int64_t>(num_threads(), batch)); }

template <class Fn>
void for_each_batch_part(int64_t batch, int64_t parts, Fn&& fn) {
  parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) fn(p, p * batch / parts, (p + 1) * batch / parts);
  });
}

// sum[c] += the sum of row c of a (channels x length) block, for c in [0, channels).
template <class T>
void add_row_sums(const T* block, int64_t channels, int64_t length, T* sum) {
  for (int64_t c = 0; c < channels; ++c) {
    const T* row = block + c * length;
    T partial[8] = {};
    int64_t i = 0;
    for (; i + 8 <= length; i += 8)
      for (int k = 0; k < 8; ++k) partial[k] += row[i + k];
    T total = 0;
    for (int k = 0; k < 8; ++k) total += partial[k];
    for (; i < length; ++i) total += row[i];
    sum[c] += total;
  }
}

// The per-part partial sums (parts, ...) added over the parts, in `shape`.
Tensor sum_parts(const Tensor& partials, const Shape& shape) {
  return (partials.shape()[0] == 1 ? partials.reshape(shape) : sum(partials, {0}).reshape(shape)).contiguous();
}

}  // namespace

Tensor conv2d_forward_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g,
                          Tensor* columns) {
  const int64_t n = g.batch, k = g.rows(), l = g.out_h() * g.out_w(), o = w.shape()[0];
  const int64_t image_size = g.channels * g.height * g.width;
  const int64_t parts = batch_parts(n);
  Tensor y = empty({n, o, g.out_h(), g.out_w()}, {x.dtype(), x.device(), false});
  // With `columns` each image's block is kept; else each part reuses one block.
  Tensor cols = empty({columns ? n : parts, k, l}, {x.dtype(), x.device(), false});
  Tensor b = bias.defined() ? bias.contiguous() : bias;
  dispatch_floating(x.dtype(), "conv2d", [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    const T* pw = w.data<T>();
    T* py = y.data<T>();
    for_each_batch_part(n, parts, [&](int64_t part, int64_t n0, int64_t n1) {
      for (int64_t i = n0; i < n1; ++i) {
        T* c = cols.data<T>() + (columns ? i : part) * k * l;
        im2col_image(px + i * image_size, g, c, l);
        T* yi = py + i * o * l;
        if (b.defined())
          for (int64_t ch = 0; ch < o; ++ch) std::fill(yi + ch * l, yi + (ch + 1) * l, b.data<T>()[ch]);
        gemm<T>(false, false, o, l, k, T(1), pw, k, c, l, b.defined() ? T(1) : T(0), yi, l);  // y_i = W cols_i (+ b)
      }
    });
  });
  if (columns) *columns = cols;
  return y;
}

std::vector<Tensor> conv2d_backward_cpu(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& columns,
                                        const ConvGeometry& g, const std::vector<bool>& needs) {
  const int64_t n = g.batch, k = g.rows(), l = g.out_h() * g.out_w(), o = w.shape()[0];
  const int64_t image_size = g.channels * g.height * g.width;
  const int64_t parts = batch_parts(n);
  const TensorOptions options{x.dtype(), x.device(), false};
  Tensor gc = grad.contiguous();
  Tensor dx = needs[0] ? zeros(x.shape(), options) : Tensor();
  Tensor dw_parts = needs[1] ? zeros({parts, o, k}, options) : Tensor();
  Tensor db_parts = needs[2] ? zeros({parts, o}, options) : Tensor();
  Tensor scratch = empty({parts, k, l}, options);  // per part: columns rebuilt, or the columns' gradient
  dispatch_floating(x.dtype(), "conv2d_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pg = gc.data<T>();
    const T* pw = w.data<T>();
    for_each_batch_part(n, parts, [&](int64_t part, int64_t n0, int64_t n1) {
      T* block = scratch.data<T>() + part * k * l;
      for (int64_t i = n0; i < n1; ++i) {
        const T* gi = pg + i * o * l;  // G_i: (O, L)
        if (needs[1]) {  // dW += G_i cols_i^T
          const T* c = block;
          if (columns.defined()) c = columns.data<T>() + i * k * l;
          else im2col_image(x.data<T>() + i * image_size, g, block, l);
          gemm<T>(false, true, o, k, l, T(1), gi, l, c, l, T(1), dw_parts.data<T>() + part * o * k, k);
        }
        if (needs[0]) {  // dx_i = col2im(W^T G_i)
          gemm<T>(true, false, k, l, o, T(1), pw, k, gi, l, T(0), block, l);
          col2im_image(block, l, g, dx.data<T>() + i * image_size);
        }
        if (needs[2]) add_row_sums(gi, o, l, db_parts.data<T>() + part * o);
      }
    });
  });
  return {dx, needs[1] ? sum_parts(dw_parts, w.shape()) : Tensor(), needs[2] ? sum_parts(db_parts, {o}) : Tensor()};
}

Tensor conv_transpose2d_forward_cpu(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g) {
  const int64_t n = g.batch, k = g.rows(), l_in = g.out_h() * g.out_w(), c_in = w.shape()[0];
  const int64_t out_size = g.channels * g.height * g.width, plane = g.height * g.width;
  const int64_t parts = batch_parts(n);
  const TensorOptions options{x.dtype(), x.device(), false};
  Tensor y = zeros({n, g.channels, g.height, g.width}, options);
  Tensor scratch = empty({parts, k, l_in}, options);
  Tensor b = bias.defined() ? bias.contiguous() : bias;
  dispatch_floating(x.dtype(), "conv_transpose2d", [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    const T* pw = w.data<T>();
    for_each_batch_part(n, parts, [&](int64_t part, int64_t n0, int64_t n1) {
      T* block = scratch.data<T>() + part * k * l_in;
      for (int64_t i = n0; i < n1; ++i) {
        gemm<T>(true, false, k, l_in, c_in, T(1), pw, k, px + i * c_in * l_in, l_in, T(0), block, l_in);  // W^T x_i
        T* yi = y.data<T>() + i * out_size;
        col2im_image(block, l_in, g, yi);
        if (b.defined())
          for (int64_t ch = 0; ch < g.channels; ++ch) {
            const T bias_value = b.data<T>()[ch];
            T* __restrict p = yi + ch * plane;
            for (int64_t q = 0; q < plane; ++q) p[q] += bias_value;
          }
      }
    });
  });
  return y;
}

std::vector<Tensor> conv_transpose2d_backward_cpu(const Tensor& grad, const Tensor& x, const Tensor& w,
                                                  const ConvGeometry& g, const std::vector<bool>& needs) {
  const int64_t n = g.batch, k = g.rows(), l_in = g.out_h() * g.out_w(), c_in = w.shape()[0];
  const int64_t out_size = g.channels * g.height * g.width, plane = g.height * g.width;
  const int64_t parts = batch_parts(n);
  const TensorOptions options{x.dtype(), x.device(), false};
  Tensor gc = grad.contiguous(), xc = x.contiguous();
  Tensor dx = needs[0] ? empty(x.shape(), options) : Tensor();
  Tensor dw_parts = needs[1] ? zeros({parts, c_in, k}, options) : Tensor();
  Tensor db_parts = needs[2] ? zeros({parts, g.channels}, options) : Tensor();
  Tensor scratch = empty({parts, k, l_in}, options);
  dispatch_floating(x.dtype(), "conv_transpose2d_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pw = w.data<T>();
    for_each_batch_part(n, parts, [&](int64_t part, int64_t n0, int64_t n1) {
      T* block = scratch.data<T>() + part * k * l_in;
      for (int64_t i = n0; i < n1; ++i) {
        const T* gi = gc.data<T>() + i * out_size;
        if (needs[0] || needs[1]) im2col_image(gi, g, block, l_in);  // the columns of G_i
        if (needs[0])  // dx_i = W cols(G_i)
          gemm<T>(false, false, c_in, l_in, k, T(1), pw, k, block, l_in, T(0), dx.data<T>() + i * c_in * l_in, l_in);
        if (needs[1])  // dW += x_i cols(G_i)^T
          gemm<T>(false, true, c_in, k, l_in, T(1), xc.data<T>() + i * c_in * l_in, l_in, block, l_in, T(1),
                  dw_parts.data<T>() + part * c_in * k, k);
        if (needs[2]) add_row_sums(gi, g.channels, plane, db_parts.data<T>() + part * g.channels);
      }
    });
  });
  return {dx, needs[1] ? sum_parts(dw_parts, w.shape()) : Tensor(),
          needs[2] ? sum_parts(db_parts, {g.channels}) : Tensor()};
}

}  // namespace sg
