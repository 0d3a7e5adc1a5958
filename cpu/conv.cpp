// The CPU's fast conv2d and conv_transpose2d kernels: the GEMMs of ops/conv.cpp's
// textbook computation run on small groups of images. The batch is split into one part
// per thread and each part goes through its images in small groups (enough for a GEMM
// of several hundred columns): the group's columns are built, multiplied while still in
// cache, and the group's (C, G*H*W) result is scattered into the images' (C, H, W)
// blocks, so no whole-batch (N, C, H, W) <-> (C, N*H*W) permutation is copied. Weight
// and bias gradients are summed per part, then across the parts.
// Pinned to the textbook computation by tests/test_fast_paths.cpp.
#include <algorithm>

#include "core/parallel.h"
#include "cpu/backend.h"
#include "cpu/elementwise.h"
#include "cpu/gemm.h"
#include "cpu/im2col.h"

namespace sg::cpu {

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
    sum[c] += static_cast<T>(vectorised_sum<T>(length, [&](int64_t i) { return row[i]; }));
  }
}

// block[c][q] += bias[c] over a (channels x length) block: a channel bias on one image.
template <class T>
void add_channel_bias_block(T* block, const T* bias, int64_t channels, int64_t length) {
  for (int64_t c = 0; c < channels; ++c) {
    T* __restrict row = block + c * length;
    const T shift = bias[c];
    for (int64_t q = 0; q < length; ++q) row[q] += shift;
  }
}

// The per-part partial sums (parts, ...) added over the parts, in `shape`.
Tensor sum_parts(const Tensor& partials, const Shape& shape) {
  if (partials.shape()[0] == 1) return partials.reshape(shape).contiguous();
  Tensor total = empty(shape, {partials.dtype(), partials.device(), false});
  sum_block(partials, total, {1, partials.shape()[0], total.numel()});
  return total;
}

// Images per GEMM: enough that the product has several hundred columns. OpenBLAS runs a
// (128 x 1024) (1024 x 49) product at about half the speed of one with 784 columns
// (measured: 67 against 124 GFLOP/s), so the images of a part go in groups.
int64_t group_size(int64_t columns_per_image) { return std::max<int64_t>(1, (768 + columns_per_image - 1) / columns_per_image); }

// Calls fn(i0, i1) for consecutive groups of at most `group` images in [n0, n1).
template <class Fn>
void for_each_group(int64_t n0, int64_t n1, int64_t group, Fn&& fn) {
  for (int64_t i0 = n0; i0 < n1; i0 += group) fn(i0, std::min(n1, i0 + group));
}

// Images i0..i1 of a (N, C, L) batch side by side as one (C, G*L) block, and back.
template <class T>
void gather_group(const T* batch, int64_t channels, int64_t l, int64_t i0, int64_t i1, T* block) {
  const int64_t width = (i1 - i0) * l;
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const T* src = batch + (i * channels + c) * l;
      std::copy(src, src + l, block + c * width + (i - i0) * l);
    }
}
template <class T>
void scatter_group(const T* block, int64_t channels, int64_t l, int64_t i0, int64_t i1, T* batch) {
  const int64_t width = (i1 - i0) * l;
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const T* src = block + c * width + (i - i0) * l;
      std::copy(src, src + l, batch + (i * channels + c) * l);
    }
}

}  // namespace

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g,
                          Tensor* columns) {
  const int64_t n = g.batch, k = g.rows(), l = g.out_h() * g.out_w(), o = w.shape()[0];
  const int64_t image_size = g.channels * g.height * g.width;
  const int64_t parts = batch_parts(n), group = group_size(l);
  const TensorOptions options{x.dtype(), x.device(), false};
  Tensor y = empty({n, o, g.out_h(), g.out_w()}, options);
  // The whole batch's columns (K, N*L), image i in columns [i*L, (i+1)*L), when they are
  // kept for the backward; else one group's block per part.
  Tensor cols = columns ? empty({k, n * l}, options) : empty({parts, k, group * l}, options);
  Tensor out_block = empty({parts, o, group * l}, options);
  Tensor b = bias.defined() ? bias.contiguous() : bias;
  dispatch_floating(x.dtype(), "conv2d", [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    const T* pw = w.data<T>();
    T* py = y.data<T>();
    for_each_batch_part(n, parts, [&](int64_t part, int64_t n0, int64_t n1) {
      for_each_group(n0, n1, group, [&](int64_t i0, int64_t i1) {
        const int64_t width = (i1 - i0) * l;
        T* c = columns ? cols.data<T>() + i0 * l : cols.data<T>() + part * k * group * l;
        const int64_t ld = columns ? n * l : width;
        for (int64_t i = i0; i < i1; ++i) im2col_image(px + i * image_size, g, c + (i - i0) * l, ld);
        T* block = out_block.data<T>() + part * o * group * l;
        gemm<T>(false, false, o, width, k, T(1), pw, k, c, ld, T(0), block, width);  // W cols, (O, G*L)
        scatter_group(block, o, l, i0, i1, py);
        if (b.defined())
          for (int64_t i = i0; i < i1; ++i) add_channel_bias_block(py + i * o * l, b.data<T>(), o, l);
      });
    });
  });
  if (columns) *columns = cols;
  return y;
}

std::vector<Tensor> conv2d_backward(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& columns,
                                        const ConvGeometry& g, const std::vector<bool>& needs) {
  const int64_t n = g.batch, k = g.rows(), l = g.out_h() * g.out_w(), o = w.shape()[0];
  const int64_t image_size = g.channels * g.height * g.width;
  const int64_t parts = batch_parts(n), group = group_size(l);
  const TensorOptions options{x.dtype(), x.device(), false};
  Tensor gc = grad.contiguous();
  Tensor dx = needs[0] ? zeros(x.shape(), options) : Tensor();
  Tensor dw_parts = needs[1] ? zeros({parts, o, k}, options) : Tensor();
  Tensor db_parts = needs[2] ? zeros({parts, o}, options) : Tensor();
  // Per part: the group's columns (rebuilt), then their gradient; and the group's G.
  Tensor scratch = empty({parts, k, group * l}, options);
  Tensor g_block = empty({parts, o, group * l}, options);
  dispatch_floating(x.dtype(), "conv2d_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pg = gc.data<T>();
    const T* pw = w.data<T>();
    for_each_batch_part(n, parts, [&](int64_t part, int64_t n0, int64_t n1) {
      T* block = scratch.data<T>() + part * k * group * l;
      T* gb = g_block.data<T>() + part * o * group * l;
      for_each_group(n0, n1, group, [&](int64_t i0, int64_t i1) {
        const int64_t width = (i1 - i0) * l;
        gather_group(pg, o, l, i0, i1, gb);  // G for the group, (O, G*L)
        if (needs[1]) {  // dW += G cols^T
          const T* c = block;
          int64_t ld = width;
          if (columns.defined()) {
            c = columns.data<T>() + i0 * l;
            ld = n * l;
          } else {
            for (int64_t i = i0; i < i1; ++i) im2col_image(x.data<T>() + i * image_size, g, block + (i - i0) * l, width);
          }
          gemm<T>(false, true, o, k, width, T(1), gb, width, c, ld, T(1), dw_parts.data<T>() + part * o * k, k);
        }
        if (needs[0]) {  // dx = col2im(W^T G)
          gemm<T>(true, false, k, width, o, T(1), pw, k, gb, width, T(0), block, width);
          for (int64_t i = i0; i < i1; ++i) col2im_image(block + (i - i0) * l, width, g, dx.data<T>() + i * image_size);
        }
        if (needs[2])
          for (int64_t i = i0; i < i1; ++i) add_row_sums(pg + i * o * l, o, l, db_parts.data<T>() + part * o);
      });
    });
  });
  return {dx, needs[1] ? sum_parts(dw_parts, w.shape()) : Tensor(), needs[2] ? sum_parts(db_parts, {o}) : Tensor()};
}

Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g) {
  const int64_t n = g.batch, k = g.rows(), l_in = g.out_h() * g.out_w(), c_in = w.shape()[0];
  const int64_t out_size = g.channels * g.height * g.width, plane = g.height * g.width;
  const int64_t parts = batch_parts(n), group = group_size(l_in);
  const TensorOptions options{x.dtype(), x.device(), false};
  Tensor y = zeros({n, g.channels, g.height, g.width}, options);
  Tensor scratch = empty({parts, k, group * l_in}, options);
  Tensor x_block = empty({parts, c_in, group * l_in}, options);
  Tensor b = bias.defined() ? bias.contiguous() : bias;
  dispatch_floating(x.dtype(), "conv_transpose2d", [&](auto zero) {
    using T = decltype(zero);
    const T* pw = w.data<T>();
    for_each_batch_part(n, parts, [&](int64_t part, int64_t n0, int64_t n1) {
      T* block = scratch.data<T>() + part * k * group * l_in;
      T* xb = x_block.data<T>() + part * c_in * group * l_in;
      for_each_group(n0, n1, group, [&](int64_t i0, int64_t i1) {
        const int64_t width = (i1 - i0) * l_in;
        gather_group(x.data<T>(), c_in, l_in, i0, i1, xb);
        gemm<T>(true, false, k, width, c_in, T(1), pw, k, xb, width, T(0), block, width);  // W^T x, (K, G*L)
        for (int64_t i = i0; i < i1; ++i) {
          T* yi = y.data<T>() + i * out_size;
          col2im_image(block + (i - i0) * l_in, width, g, yi);
          if (b.defined()) add_channel_bias_block(yi, b.data<T>(), g.channels, plane);
        }
      });
    });
  });
  return y;
}

std::vector<Tensor> conv_transpose2d_backward(const Tensor& grad, const Tensor& x, const Tensor& w,
                                                  const ConvGeometry& g, const std::vector<bool>& needs) {
  const int64_t n = g.batch, k = g.rows(), l_in = g.out_h() * g.out_w(), c_in = w.shape()[0];
  const int64_t out_size = g.channels * g.height * g.width, plane = g.height * g.width;
  const int64_t parts = batch_parts(n), group = group_size(l_in);
  const TensorOptions options{x.dtype(), x.device(), false};
  Tensor gc = grad.contiguous(), xc = x.contiguous();
  Tensor dx = needs[0] ? empty(x.shape(), options) : Tensor();
  Tensor dw_parts = needs[1] ? zeros({parts, c_in, k}, options) : Tensor();
  Tensor db_parts = needs[2] ? zeros({parts, g.channels}, options) : Tensor();
  Tensor scratch = empty({parts, k, group * l_in}, options);
  Tensor x_block = empty({parts, c_in, group * l_in}, options);
  dispatch_floating(x.dtype(), "conv_transpose2d_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* pw = w.data<T>();
    for_each_batch_part(n, parts, [&](int64_t part, int64_t n0, int64_t n1) {
      T* block = scratch.data<T>() + part * k * group * l_in;
      T* xb = x_block.data<T>() + part * c_in * group * l_in;
      for_each_group(n0, n1, group, [&](int64_t i0, int64_t i1) {
        const int64_t width = (i1 - i0) * l_in;
        if (needs[0] || needs[1])  // the columns of G for the group, (K, G*L)
          for (int64_t i = i0; i < i1; ++i) im2col_image(gc.data<T>() + i * out_size, g, block + (i - i0) * l_in, width);
        if (needs[1]) {  // dW += x cols(G)^T
          gather_group(xc.data<T>(), c_in, l_in, i0, i1, xb);
          gemm<T>(false, true, c_in, k, width, T(1), xb, width, block, width, T(1), dw_parts.data<T>() + part * c_in * k, k);
        }
        if (needs[0]) {  // dx = W cols(G)
          gemm<T>(false, false, c_in, width, k, T(1), pw, k, block, width, T(0), xb, width);
          scatter_group(xb, c_in, l_in, i0, i1, dx.data<T>());
        }
        if (needs[2])
          for (int64_t i = i0; i < i1; ++i)
            add_row_sums(gc.data<T>() + i * out_size, g.channels, plane, db_parts.data<T>() + part * g.channels);
      });
    });
  });
  return {dx, needs[1] ? sum_parts(dw_parts, w.shape()) : Tensor(),
          needs[2] ? sum_parts(db_parts, {g.channels}) : Tensor()};
}

}  // namespace sg::cpu
