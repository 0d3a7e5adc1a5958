#pragma once
// The one place where a device is chosen.
//
// An op checks its arguments, then calls kernels_for(tensor).some_kernel(...): a table
// of function pointers, one table per device. cpu/ fills the CPU's table and cuda/ the
// CUDA backend's, with functions of the same names and signatures (cpu/backend.h,
// cuda/backend.h), so the compiler checks that both devices offer the same kernels. No
// file in ops/ or optim/ asks which device a tensor is on.
//
// Pointwise maths goes through map_unary / map_binary below (templates over a functor
// of kernels/pointwise.h); their device choice is in kernels/kernels.cpp too.
//
// Some ops have a textbook computation that runs on every device (written in the op's
// own file) and, on the CPU (and for spectral norm on CUDA), a faster kernel for the
// same maths: those are the FastKernels. An op uses one when fast_kernels_for(device)
// offers it; ReferencePathGuard turns them all off, which is how
// tests/test_fast_paths.cpp pins each CPU fast kernel to the textbook computation on
// every machine (tests/test_cuda.cpp pins the CUDA ones on a GPU).
#include <cstddef>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/geometry.h"

namespace sg {

// What a value check names when it fails: `what`, followed by `shape` when one is given
// (e.g. "spectral_normalize: the sigma estimate for a weight of shape " and [128, 64, 4, 4]).
// Only a failure formats it, so a check that passes allocates nothing. `what` is a string
// literal: a GPU keeps its failures' messages keyed by its address.
struct CheckedValue {
  const char* what;
  const Shape* shape = nullptr;
  // Implicit: a string literal names a check without a shape.
  CheckedValue(const char* what, const Shape* shape = nullptr) : what(what), shape(shape) {}
  std::string str() const { return shape ? what + shape_str(*shape) : std::string(what); }
};

struct Kernels {
  // ---- copies (cpu/copy.cpp, cuda/copy.cu); all operands on this device ----------------
  // dst[i] = cast(src[i]) over dst's shape, src broadcast to it, any strides.
  void (*copy)(const Tensor& dst, const Tensor& src);
  void (*fill)(const Tensor& dst, double value);
  // dst += alpha * other (other broadcast to dst); dst *= factor. Floating dtypes.
  void (*add_scaled_inplace)(const Tensor& dst, const Tensor& other, double alpha);
  void (*scale_inplace)(const Tensor& dst, double factor);

  // ---- checks (cpu/checks.cpp, cuda/checks.cu) ---------------------------------------------
  // A clear error "<what> is <value> (expected a positive finite value)" unless the one
  // value of `value` is positive and finite: at once on the CPU; on a GPU without waiting
  // for the device, when the host next waits for it (a copy to the host, synchronize()),
  // so that a forward never stalls on the check and a captured step keeps it.
  void (*require_positive_finite)(const Tensor& value, const CheckedValue& what);

  // ---- reductions (cpu/reduce.cpp, cuda/reduce.cu): x contiguous, viewed as `block` -------
  // out[o, i] = sum_r x[o, r, i]
  void (*sum_block)(const Tensor& x, const Tensor& out, const ReduceBlock& block);
  // values/indices[o, i] = max (or min) over r of x[o, r, i], first index on ties
  void (*extreme)(const Tensor& x, const Tensor& values, const Tensor& indices, const ReduceBlock& block, bool is_max);
  // grad_in (zeros) [o, indices[o, i], i] = grad[o, i]
  void (*extreme_backward)(const Tensor& grad, const Tensor& indices, const Tensor& grad_in, const ReduceBlock& block);

  // ---- GEMM (cpu/gemm.cpp on OpenBLAS, cuda/matmul.cu on cuBLAS) -------------------------
  // For b in [0, batch): C_b (m x n, row-major, ldc) = op(A_b) op(B_b), where A_b starts at
  // a + b*stride_a elements and is read transposed when trans_a (likewise B).
  void (*gemm)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, int64_t lda,
               int64_t stride_a, const void* b, int64_t ldb, int64_t stride_b, void* c, int64_t ldc, int64_t stride_c,
               int64_t batch, DType dtype);

  // ---- convolution data movement (cpu/im2col.cpp, cuda/im2col.cu) ------------------------
  // image: contiguous (N, C, H, W) -> new contiguous (C*kh*kw, N*Ho*Wo)
  Tensor (*im2col)(const Tensor& image, const ConvGeometry& geometry);
  // cols: contiguous (C*kh*kw, N*Ho*Wo) -> new contiguous (N, C, H, W), overlaps summed
  Tensor (*col2im)(const Tensor& cols, const ConvGeometry& geometry);

  // ---- batch norm (cpu/batch_norm.cpp, cuda/batch_norm.cu): x contiguous as (N, C, S) ----
  // Fills y, x_hat and inv_std; updates the running statistics in training when given.
  void (*batch_norm_forward)(const Tensor& x, const Tensor& y, const Tensor& x_hat, const Tensor& inv_std,
                             const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, const BatchNormShape& shape, bool training, double momentum,
                             double eps);
  // Fills whichever of dx, dweight, dbias is defined.
  void (*batch_norm_backward)(const Tensor& grad, const Tensor& x_hat, const Tensor& inv_std, const Tensor& weight,
                              const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                              const BatchNormShape& shape, bool training);

  // ---- pooling (cpu/pool.cpp, cuda/pool.cu); dx arrives zeroed -----------------------------
  void (*max_pool_forward)(const Tensor& x, const Tensor& y, const Tensor& argmax, const PoolGeometry& geometry);
  void (*max_pool_backward)(const Tensor& grad, const Tensor& argmax, const Tensor& dx, const PoolGeometry& geometry);
  void (*avg_pool_forward)(const Tensor& x, const Tensor& y, const PoolGeometry& geometry);
  void (*avg_pool_backward)(const Tensor& grad, const Tensor& dx, const PoolGeometry& geometry);

  // ---- losses (cpu/loss.cpp, cuda/loss.cu) -------------------------------------------------
  // picked[i] = -log_probs[i, target[i]];  grad_in (zeros) [i, target[i]] = -grad[i]
  void (*nll_gather)(const Tensor& log_probs, const Tensor& target, const Tensor& picked);
  void (*nll_scatter)(const Tensor& grad, const Tensor& target, const Tensor& grad_in);

  // ---- optimisers (cpu/optim.cpp, cuda/optim.cu): one fused update per parameter tensor ---
  // lr: a 1-element float64 tensor on this device, read by the update itself (a captured
  // step replayed later uses the learning rate set before the replay).
  void (*sgd_step)(const Tensor& param, const Tensor& grad, const Tensor& buffer, const Tensor& lr, double momentum,
                   double dampening, double weight_decay, bool nesterov, bool first);
  // step_count: a 1-element int64 tensor on this device; the step adds one to it and uses
  // the new count t for the bias corrections 1 - beta^t, on the device (a captured step
  // replayed later counts on by itself).
  void (*adam_step)(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                    const Tensor& step_count, const Tensor& lr, double beta1, double beta2, double eps,
                    double weight_decay, bool decoupled);
};

// Faster kernels for maths an op also writes out as its textbook computation. A null
// entry means "use the textbook computation". The CPU fills every entry (cpu/backend.h);
// the CUDA backend the power iteration and the SN backward (cuda/spectral_norm.cu).
struct FastKernels {
  // conv2d: x (N, C, H, W), w (O, C, kh, kw) contiguous; `geometry` is x's. `columns`,
  // when given, receives the im2col columns for the weight gradient (N, C*kh*kw, Ho*Wo).
  Tensor (*conv2d_forward)(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& geometry,
                           Tensor* columns);
  std::vector<Tensor> (*conv2d_backward)(const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& columns,
                                         const ConvGeometry& geometry, const std::vector<bool>& needs);
  // conv_transpose2d: x (N, Cin, H, W), w (Cin, Cout, kh, kw); `geometry` is the output's.
  Tensor (*conv_transpose2d_forward)(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& geometry);
  std::vector<Tensor> (*conv_transpose2d_backward)(const Tensor& grad, const Tensor& x, const Tensor& w,
                                                   const ConvGeometry& geometry, const std::vector<bool>& needs);
  // linear: y = x W^T + b as one GEMM into y pre-filled with b; db = column sums of grad.
  Tensor (*linear_forward)(const Tensor& x, const Tensor& w, const Tensor& bias);
  Tensor (*linear_bias_grad)(const Tensor& grad);
  // Power iteration on the buffers themselves (contiguous m, u, v): returns sigma (0-d).
  Tensor (*power_iteration)(const Tensor& m, const Tensor& u, const Tensor& v, int iterations, double eps);
  // The SN backward for one term along dim 0: (f G - f <G, W_sn>/scale * a u v^T), f = factor.
  Tensor (*sn_backward_rank_one)(const Tensor& grad, const Tensor& w_sn, const Tensor& u, const Tensor& v,
                                 const Tensor& factor, double scale, double term_weight);
  // sn_linear (a linear with W_sn = factor W, one term along dim 0), W_sn never written:
  // y = factor x W^T + b; `product`, when given, receives factor x W^T for the backward.
  // An undefined result: x W^T left the dtype's range, use the textbook computation.
  // `factor` is a 0-d tensor on the device (scale / sigma).
  Tensor (*sn_linear_forward)(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& factor,
                              Tensor* product);
  // {dx, dW, db}: dx = (f G) W, dW = f G^T x - [through_sigma] f a <G, product>/scale u v^T,
  // db = column sums of G (f = factor, a = term_weight); undefined where `needs` is false.
  std::vector<Tensor> (*sn_linear_backward)(const Tensor& grad, const Tensor& x, const Tensor& w,
                                            const Tensor& product, const Tensor& u, const Tensor& v,
                                            const Tensor& factor,
                                            double scale, double term_weight, bool through_sigma,
                                            const std::vector<bool>& needs);
};

// The entries' names, in declaration order. Each backend builds its tables as
// make_table<Kernels>(SG_KERNELS) inside its own namespace, so the names resolve to its
// own functions (cpu::copy, cuda::copy, ...): a backend without one of them fails to
// compile, and a function of the wrong type too.
#define SG_KERNELS                                                                            \
  copy, fill, add_scaled_inplace, scale_inplace, require_positive_finite, sum_block, extreme, extreme_backward, gemm, im2col, \
      col2im, batch_norm_forward, batch_norm_backward, max_pool_forward, max_pool_backward,         \
      avg_pool_forward, avg_pool_backward, nll_gather, nll_scatter, sgd_step, adam_step
#define SG_FAST_KERNELS                                                                         \
  conv2d_forward, conv2d_backward, conv_transpose2d_forward, conv_transpose2d_backward, linear_forward, \
      linear_bias_grad, power_iteration, sn_backward_rank_one, sn_linear_forward, sn_linear_backward

// make_table refuses a list that does not fill every entry (plain aggregate
// initialisation would leave the rest null). Every entry is a function pointer, so a
// table's size counts its entries: the static_assert catches an entry added to a struct
// but not to its list.
template <class Table>
inline constexpr std::size_t kTableEntries = sizeof(Table) / sizeof(void (*)());
template <class Table, class... Entry>
Table make_table(Entry... entries) {
  static_assert(sizeof...(Entry) == kTableEntries<Table>, "a kernel table must fill every entry");
  return Table{entries...};
}

// The kernels of `device`; a clear error when that device's backend is not compiled in.
const Kernels& kernels_for(Device device);
inline const Kernels& kernels_for(const Tensor& t) { return kernels_for(t.device()); }
// The device's fast kernels, or nullptr (none, or a ReferencePathGuard is alive).
const FastKernels* fast_kernels_for(Device device);
// The same, but nullptr also when the table leaves `entry` null (the CUDA backend fills
// only the spectral-norm entries): fast_kernels_with(device, &FastKernels::linear_forward).
template <class Entry>
const FastKernels* fast_kernels_with(Device device, Entry FastKernels::*entry) {
  const FastKernels* fast = fast_kernels_for(device);
  return fast && fast->*entry ? fast : nullptr;
}

// While one is alive (on this thread), every op runs its textbook computation.
class ReferencePathGuard {
 public:
  ReferencePathGuard();
  ~ReferencePathGuard();
  ReferencePathGuard(const ReferencePathGuard&) = delete;
  ReferencePathGuard& operator=(const ReferencePathGuard&) = delete;
  static bool active();
};

// out = f(x) elementwise, and out = f(a, b) with NumPy broadcasting, as new contiguous
// tensors on the operands' device. Defined (kernels/kernels.cpp) for exactly the
// functors listed in kernels/pointwise.h.
template <class F>
Tensor map_unary(const Tensor& input, F f, const char* op);
template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, F f, const char* op);

// A clear error unless a and b are on one device and of one dtype.
void check_same_dtype_device(const Tensor& a, const Tensor& b, const char* op);

// NumPy broadcasting of two shapes; a clear error naming both shapes when they clash.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Strides that read `t` as if it had `shape` (size-1 and missing dims get stride 0).
Shape broadcast_strides(const Tensor& t, const Shape& shape);

// `t` itself when (cu)BLAS can read its last two dims as they are (row- or
// column-major), else a contiguous copy; `layout` says how to read the result.
Tensor blas_ready(const Tensor& t, BlasOperand* layout);

}  // namespace sg
