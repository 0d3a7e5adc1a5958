// matmul:   C = A B
// backward: dA = G B^T,   dB = A^T G      (G = dL/dC)
// The transposes in the backward are views; the gemm kernel (cpu/gemm.cpp, cuda/matmul.cu)
// reads them with a transpose flag, so no operand is copied unless its memory is not a matrix.
#include "ops/matmul.h"

#include "core/autograd.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace sg {

namespace {

// out[batch] = a[batch] @ b[batch]; a 2-D operand is shared by every batch.
Tensor matmul_forward(const Tensor& a_in, const Tensor& b_in) {
  BlasOperand la{}, lb{};
  Tensor a = blas_ready(a_in, &la), b = blas_ready(b_in, &lb);
  const int64_t m = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1], n = b.shape()[b.dim() - 1];
  const bool batched = a.dim() == 3 || b.dim() == 3;
  const int64_t batch = batched ? (a.dim() == 3 ? a.shape()[0] : b.shape()[0]) : 1;
  Shape out_shape = batched ? Shape{batch, m, n} : Shape{m, n};
  Tensor out = empty(out_shape, {a.dtype(), a.device(), false});
  if (out.numel() == 0) return out;
  if (k == 0) return out.zero_();
  const int64_t a_step = a.dim() == 3 ? a.strides()[0] : 0;
  const int64_t b_step = b.dim() == 3 ? b.strides()[0] : 0;
  kernels_for(a).gemm(la.transposed, lb.transposed, m, n, k, a.raw_data(), la.ld, a_step, b.raw_data(), lb.ld,
                      b_step, out.raw_data(), n, m * n, batch, a.dtype());
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  SG_CHECK((a.dim() == 2 || a.dim() == 3) && (b.dim() == 2 || b.dim() == 3),
           "matmul: expected 2-d or 3-d operands, got shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()));
  check_same_dtype_device(a, b, "matmul");
  SG_CHECK(a.shape()[a.dim() - 1] == b.shape()[b.dim() - 2], "matmul: shapes ", shape_str(a.shape()), " and ",
           shape_str(b.shape()), " cannot be multiplied (", a.shape()[a.dim() - 1], " columns vs ",
           b.shape()[b.dim() - 2], " rows)");
  SG_CHECK(!(a.dim() == 3 && b.dim() == 3 && a.shape()[0] != b.shape()[0]), "matmul: batch sizes differ: ",
           shape_str(a.shape()), " and ", shape_str(b.shape()));
  Tensor out = matmul_forward(a, b);
  return record("matmul", {a, b}, out,
                [saved_a = save(a, "matmul"), saved_b = save(b, "matmul")](const Tensor& g,
                                                                          const std::vector<bool>& needs) {
                  const Tensor& a = saved_a.get();
                  const Tensor& b = saved_b.get();
                  // A 2-d operand that is a transposed view (x W^T in Linear) gets its gradient
                  // in the same layout: computed transposed and handed back as a view, so that the
                  // transpose's own backward yields a contiguous gradient for the weight.
                  auto transposed_2d = [](const Tensor& t) { return t.dim() == 2 && !t.is_contiguous() && t.t().is_contiguous(); };
                  Tensor da, db;
                  if (needs[0])
                    da = transposed_2d(a) && g.dim() == 2 ? matmul_forward(b, g.t()).t()
                                                          : sum_to_shape(matmul_forward(g, b.transpose(-1, -2)), a.shape());
                  if (needs[1])
                    db = transposed_2d(b) && g.dim() == 2 ? matmul_forward(g.t(), a).t()
                                                          : sum_to_shape(matmul_forward(a.transpose(-1, -2), g), b.shape());
                  return TensorList{da, db};
                });
}

}  // namespace sg
