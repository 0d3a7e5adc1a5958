// The CPU rows of the dispatch tables: the functions of cpu/backend.h, entry by entry.
#include "cpu/backend.h"

namespace sg::cpu {

const Kernels& kernels() {
  static const Kernels table = make_table<Kernels>(
      copy, fill, add_scaled_inplace, scale_inplace,
      sum_block, extreme, extreme_backward,
      gemm,
      im2col, col2im,
      batch_norm_forward, batch_norm_backward,
      max_pool_forward, max_pool_backward, avg_pool_forward, avg_pool_backward,
      nll_gather, nll_scatter,
      sgd_step, adam_step);
  return table;
}

const FastKernels& fast_kernels() {
  static const FastKernels table = make_table<FastKernels>(
      conv2d_forward, conv2d_backward, conv_transpose2d_forward, conv_transpose2d_backward,
      linear_forward, linear_bias_grad,
      power_iteration, sn_backward_rank_one);
  return table;
}

}  // namespace sg::cpu
