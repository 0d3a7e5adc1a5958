// matmul:   C = A B
// backward: dA = G B^T,   dB = A^T G      (G = dL/dC)
// The transposes in the backward are views; gemm() below hands them to BLAS as
// CblasTrans, so no operand is ever copied unless its memory is not a matrix.
#include "ops/matmul.h"

#include <cblas.h>

#include "core/autograd.h"
#include "core/parallel.h"
#include "cuda/backend.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace sg {

namespace {

// How BLAS should read a 2-D matrix (rows x cols) stored with strides (rs, cs).
struct BlasOperand {
  CBLAS_TRANSPOSE trans;
  int64_t ld;
};

// Returns false when the layout is neither row- nor column-major (then copy first).
bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, BlasOperand* out) {
  if (cs == 1 && (rows == 1 || rs >= cols)) {
    *out = {CblasNoTrans, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
    return true;
  }
  if (rs == 1 && (cols == 1 || cs >= rows)) {
    *out = {CblasTrans, cols == 1 ? std::max<int64_t>(rows, 1) : cs};
    return true;
  }
  return false;
}

// A view of `t` whose last two dims BLAS can read directly (t itself when it can).
Tensor blas_ready(const Tensor& t, BlasOperand* layout) {
  int64_t nd = t.dim();
  int64_t rows = t.shape()[nd - 2], cols = t.shape()[nd - 1];
  if (blas_layout(rows, cols, t.strides()[nd - 2], t.strides()[nd - 1], layout)) return t;
  Tensor c = t.contiguous();
  blas_layout(rows, cols, c.strides()[nd - 2], c.strides()[nd - 1], layout);
  return c;
}

template <class T>
void gemm_serial(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                 const T* b, int64_t ldb, T* c, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, 1.0, a, (int)lda, b, (int)ldb, 0.0, c, (int)ldc);
}

// One GEMM split across sigmagrad's threads (OpenBLAS itself runs single-threaded, see
// core/parallel.cpp): C's rows are divided when C is taller than wide, else its columns.
// Each block is a plain BLAS call on a sub-matrix; no data is copied.
template <class T>
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
          const T* b, int64_t ldb, T* c, int64_t ldc) {
  constexpr int64_t kMinFlopsPerThread = 1 << 21;  // below this, threads cost more than they save
  const int64_t grain_rows = std::max<int64_t>(8, kMinFlopsPerThread / std::max<int64_t>(n * k, 1));
  const int64_t grain_cols = std::max<int64_t>(16, kMinFlopsPerThread / std::max<int64_t>(m * k, 1));
  if (m >= n) {
    parallel_for(m, grain_rows, [&](int64_t r0, int64_t r1) {
      const T* a0 = ta == CblasNoTrans ? a + r0 * lda : a + r0;
      gemm_serial<T>(ta, tb, r1 - r0, n, k, a0, lda, b, ldb, c + r0 * ldc, ldc);
    });
  } else {
    parallel_for(n, grain_cols, [&](int64_t c0, int64_t c1) {
      const T* b0 = tb == CblasNoTrans ? b + c0 : b + c0 * ldb;
      gemm_serial<T>(ta, tb, m, c1 - c0, k, a, lda, b0, ldb, c + c0, ldc);
    });
  }
}

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
  if (a.device().is_cuda()) {
    cuda::gemm(la.trans == CblasTrans, lb.trans == CblasTrans, m, n, k, a.raw_data(), la.ld, a_step, b.raw_data(),
               lb.ld, b_step, out.raw_data(), n, m * n, batch, a.dtype());
    return out;
  }
  check_cpu(a, "matmul");
  dispatch_floating(a.dtype(), "matmul", [&](auto zero) {
    using T = decltype(zero);
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    T* pc = out.data<T>();
    for (int64_t i = 0; i < batch; ++i)
      gemm<T>(la.trans, lb.trans, m, n, k, pa + i * a_step, la.ld, pb + i * b_step, lb.ld, pc + i * m * n, n);
  });
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
