#include "ops/spectral_norm.h"

#include <cblas.h>  // the host-side float64 diagnostics below (top_singular_values)

#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/ops.h"

extern "C" void dgesvd_(const char* jobu, const char* jobvt, const int* m, const int* n, double* a, const int* lda,
                        double* s, double* u, const int* ldu, double* vt, const int* ldvt, double* work,
                        const int* lwork, int* info);
extern "C" void dsyev_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                       double* work, const int* lwork, int* info);

namespace sg {

namespace {

Shape sn_order(int64_t ndim, int64_t dim) {
  Shape order{dim};
  for (int64_t d = 0; d < ndim; ++d)
    if (d != dim) order.push_back(d);
  return order;
}

// N(x) = x / max(||x||, eps), as tensor ops: on a GPU nothing is read back to the host.
// `norm` (if given) receives ||x||.
Tensor normalized(const Tensor& x, double eps, Tensor* norm = nullptr) {
  Tensor length = sqrt(sum(mul(x, x)));
  if (norm) *norm = length;
  return div(x, clamp(length, eps, std::numeric_limits<double>::infinity()));
}

Tensor matvec(const Tensor& matrix, const Tensor& vector) { return matmul(matrix, vector.unsqueeze(1)).squeeze(1); }

void check_term(const Tensor& weight, const SigmaTerm& term) {
  Tensor m = sn_matrix(weight, term.dim);
  SG_CHECK(term.u.dim() == 1 && term.u.shape()[0] == m.shape()[0] && term.v.dim() == 1 &&
               term.v.shape()[0] == m.shape()[1],
           "spectral_normalize: for a weight ", shape_str(weight.shape()), " normalised along dim ", term.dim,
           " (a ", m.shape()[0], "x", m.shape()[1], " matrix), expected u of shape [", m.shape()[0], "] and v of shape [",
           m.shape()[1], "], got ", shape_str(term.u.shape()), " and ", shape_str(term.v.shape()));
}

// Checked here, once for every path: the fast kernels index u and v by M's shape.
void check_power_iteration_args(const Tensor& m, const Tensor& u, const Tensor& v, int iterations) {
  SG_CHECK(m.dim() == 2, "power_iteration: expected a matrix, got shape ", shape_str(m.shape()));
  SG_CHECK(iterations >= 0, "power_iteration: expected iterations >= 0, got ", iterations);
  SG_CHECK(u.dim() == 1 && u.shape()[0] == m.shape()[0] && v.dim() == 1 && v.shape()[0] == m.shape()[1],
           "power_iteration: for a ", m.shape()[0], "x", m.shape()[1], " matrix, expected u of shape [", m.shape()[0],
           "] and v of shape [", m.shape()[1], "], got ", shape_str(u.shape()), " and ", shape_str(v.shape()));
  SG_CHECK(u.dtype() == m.dtype() && v.dtype() == m.dtype() && u.device() == m.device() && v.device() == m.device(),
           "power_iteration: expected u and v of the matrix's dtype and device (", dtype_name(m.dtype()), " on ",
           m.device().str(), "), got ", dtype_name(u.dtype()), " on ", u.device().str(), " and ", dtype_name(v.dtype()),
           " on ", v.device().str());
}

}  // namespace

Tensor sn_matrix(const Tensor& weight, int64_t dim) {
  SG_CHECK(weight.dim() >= 1, "spectral norm: expected a weight with at least one dim, got a 0-d tensor");
  dim = wrap_dim(dim, weight.dim(), "spectral norm");
  Tensor moved = dim == 0 ? weight : weight.permute(sn_order(weight.dim(), dim));
  return moved.reshape({weight.shape()[static_cast<std::size_t>(dim)], -1});
}

Tensor sn_unflatten(const Tensor& matrix, const Shape& weight_shape, int64_t dim) {
  dim = wrap_dim(dim, static_cast<int64_t>(weight_shape.size()), "spectral norm");
  Shape order = sn_order(static_cast<int64_t>(weight_shape.size()), dim);
  Shape moved_shape;
  for (int64_t d : order) moved_shape.push_back(weight_shape[static_cast<std::size_t>(d)]);
  Tensor moved = matrix.reshape(moved_shape);
  Shape inverse(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) inverse[static_cast<std::size_t>(order[i])] = static_cast<int64_t>(i);
  return dim == 0 ? moved : moved.permute(inverse);
}

// The textbook power iteration, as tensor ops (on a GPU nothing is read back to the
// host); the CPU runs the same steps on the buffers by GEMV (cpu::power_iteration).
Tensor power_iteration(const Tensor& matrix, Tensor& u, Tensor& v, int iterations, double eps) {
  NoGradGuard no_grad;
  Tensor m = matrix.detach();
  check_power_iteration_args(m, u, v, iterations);
  if (iterations == 0) return sn_sigma_tensor(m, u, v);  // nothing refined: the pair's own estimate
  const FastKernels* fast = fast_kernels_with(m.device(), &FastKernels::power_iteration);
  if (fast && m.numel() > 0 && m.is_contiguous() && u.is_contiguous() && v.is_contiguous()) {
    Tensor sigma = fast->power_iteration(m, u, v, iterations, eps);
    u.storage().bump_version();
    v.storage().bump_version();
    return sigma;
  }
  Tensor norm;  // ||M^T u|| of the last step
  for (int k = 0; k < iterations; ++k) {
    u.copy_(normalized(matvec(m, v), eps));
    v.copy_(normalized(matvec(m.t(), u), eps, &norm));
  }
  // u . (M v) with v = M^T u / max(||M^T u||, eps) is ||M^T u||^2 / max(||M^T u||, eps).
  return div(mul(norm, norm), clamp(norm, eps, std::numeric_limits<double>::infinity()));
}

Tensor sn_sigma_tensor(const Tensor& matrix, const Tensor& u, const Tensor& v) {
  NoGradGuard no_grad;
  return sum(mul(u, matvec(matrix.detach(), v)));
}

double sn_sigma(const Tensor& matrix, const Tensor& u, const Tensor& v) { return sn_sigma_tensor(matrix, u, v).item(); }

double sn_residual(const Tensor& matrix, const Tensor& u, const Tensor& v) {
  // Right after v <- N(M^T u), M^T u = sigma v holds exactly, so the informative half
  // of the singular-pair condition is the other one: M v = sigma u.
  NoGradGuard no_grad;
  double sigma = sn_sigma(matrix, u, v);
  Tensor r = sub(matvec(matrix.detach(), v), mul(u, scalar_tensor(sigma, {u.dtype(), u.device(), false})));
  return std::sqrt(sum(mul(r, r)).item()) / std::max(std::abs(sigma), 1e-300);
}

double exact_top_singular(const Tensor& matrix, Tensor* u_out, Tensor* v_out) {
  SG_CHECK(matrix.dim() == 2, "exact_top_singular: expected a matrix, got ", shape_str(matrix.shape()));
  const int h = static_cast<int>(matrix.shape()[0]), w = static_cast<int>(matrix.shape()[1]);
  // LAPACK is column-major: the row-major (h x w) data is the column-major (w x h)
  // matrix M^T, whose SVD is V S U^T: its left vectors are our v, its right ones our u.
  std::vector<double> a = matrix.detach().to(DType::Float64).contiguous().to_vector<double>();
  // The thin SVD ('S'): k = min(h, w) vectors a side, not a full w x w basis (for a
  // (1 x 6272) weight, 'A' built a 6272 x 6272 matrix and took a second).
  const int k = std::min(h, w);
  std::vector<double> s(static_cast<std::size_t>(k)), left(static_cast<std::size_t>(w) * k),
      right(static_cast<std::size_t>(k) * h);
  int lwork = -1, info = 0;
  double query = 0;
  const char job = 'S';
  dgesvd_(&job, &job, &w, &h, a.data(), &w, s.data(), left.data(), &w, right.data(), &k, &query, &lwork, &info);
  lwork = static_cast<int>(query);
  std::vector<double> work(static_cast<std::size_t>(std::max(lwork, 1)));
  dgesvd_(&job, &job, &w, &h, a.data(), &w, s.data(), left.data(), &w, right.data(), &k, work.data(), &lwork, &info);
  SG_CHECK(info == 0, "exact_top_singular: LAPACK dgesvd failed (info ", info, ") for a ", h, "x", w, " matrix");
  TensorOptions options{matrix.dtype(), matrix.device(), false};
  if (v_out) *v_out = from_vector(std::vector<double>(left.begin(), left.begin() + w), options);  // column 0
  if (u_out) {  // row 0 of the (k x h) column-major VT, i.e. elements 0, k, 2k, ...
    std::vector<double> u(static_cast<std::size_t>(h));
    for (int i = 0; i < h; ++i) u[static_cast<std::size_t>(i)] = right[static_cast<std::size_t>(i) * k];
    *u_out = from_vector(u, options);
  }
  return s.empty() ? 0.0 : s[0];
}

namespace {

// scale / sigma as a 0-d tensor on the weight's device (sigma and the factor stay there:
// a GPU forward and backward never wait for the host), after checking the terms; sigma
// is `known_sigma` when given, else summed from the terms. No graph.
Tensor normalising_factor(const Tensor& weight, const std::vector<SigmaTerm>& terms, double scale,
                          const Tensor* known_sigma, Tensor& sigma) {
  SG_CHECK(!terms.empty(), "spectral_normalize: expected at least one sigma term");
  NoGradGuard no_grad;
  for (const SigmaTerm& term : terms) {
    check_term(weight, term);
    if (known_sigma) continue;
    Tensor s = sn_sigma_tensor(sn_matrix(weight, term.dim), term.u, term.v) * term.weight;
    sigma = sigma.defined() ? add(sigma, s) : s;
  }
  if (known_sigma) sigma = known_sigma->detach();
  // On every device: a zero or non-finite sigma would turn W_sn into inf or NaN. (A GPU
  // reports it at the host's next wait for it rather than stall every forward.)
  kernels_for(sigma).require_positive_finite(sigma, {"spectral_normalize: the sigma estimate for a weight of shape ",
                                                    &weight.shape()});
  return div(scalar_tensor(scale, {weight.dtype(), weight.device(), false}), sigma);
}

}  // namespace

Tensor spectral_normalize(const Tensor& weight, const std::vector<SigmaTerm>& terms, double scale, SNBackward mode,
                          Tensor* sigma_out, const Tensor* known_sigma) {
  SG_CHECK(mode != SNBackward::ThroughIterations,
           "spectral_normalize: through_iterations is spectral_normalize_through_iterations");
  Tensor sigma, out;
  const Tensor factor = normalising_factor(weight, terms, scale, known_sigma, sigma);
  {
    NoGradGuard no_grad;
    out = mul(weight, factor).detach();
  }
  if (sigma_out) *sigma_out = sigma;
  // Each forward keeps its own copies of u and v: a later forward refines the
  // buffers in place, and this backward must use the vectors this sigma came from.
  std::vector<SigmaTerm> saved;
  if (mode == SNBackward::ThroughSigma)
    for (const SigmaTerm& term : terms) saved.push_back({term.dim, term.u.detach().clone(), term.v.detach().clone(), term.weight});
  return record("spectral_norm", {weight}, out,
                [saved, factor, scale, mode, saved_out = save(out, "spectral_norm"), shape = weight.shape()](
                    const Tensor& g, const std::vector<bool>&) {
                  // dL/dW = (scale/sigma) (G - <G, W_sn>/scale * S),  S = sum_k a_k unflatten(u_k v_k^T)
                  const FastKernels* fast = fast_kernels_with(g.device(), &FastKernels::sn_backward_rank_one);
                  if (fast && mode == SNBackward::ThroughSigma && saved.size() == 1 && saved[0].dim == 0)
                    return TensorList{fast->sn_backward_rank_one(g, saved_out.get(), saved[0].u, saved[0].v, factor,
                                                                 scale, saved[0].weight)};
                  Tensor grad = mul(g, factor);
                  if (mode == SNBackward::DetachSigma) return TensorList{grad};
                  Tensor inner = sum(mul(g, saved_out.get())) * (1.0 / scale);  // <G, W_sn> / scale
                  for (const SigmaTerm& term : saved) {
                    Tensor outer = matmul(term.u.unsqueeze(1), term.v.unsqueeze(0));  // u v^T
                    Tensor coefficient = neg(mul(factor, inner)) * term.weight;
                    grad = add(grad, mul(sn_unflatten(outer, shape, term.dim), coefficient));
                  }
                  return TensorList{grad};
                });
}

Tensor sn_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const std::vector<SigmaTerm>& terms,
                 double scale, SNBackward mode, const Tensor* known_sigma) {
  SG_CHECK(mode != SNBackward::ThroughIterations,
           "sn_linear: through_iterations is spectral_normalize_through_iterations, then linear");
  check_linear_args(x, weight, bias);
  const bool one_term_along_rows = terms.size() == 1 && terms[0].dim == 0;
  const bool empty_product = x.numel() == 0 || weight.numel() == 0;
  const FastKernels* fast =
      one_term_along_rows && !empty_product ? fast_kernels_with(x.device(), &FastKernels::sn_linear_forward) : nullptr;
  // The textbook computation: W_sn written out, then the layer's product.
  auto textbook = [&] { return linear(x, spectral_normalize(weight, terms, scale, mode, nullptr, known_sigma), bias); };
  if (!fast) return textbook();

  Tensor sigma;
  const Tensor factor = normalising_factor(weight, terms, scale, known_sigma, sigma);
  const bool through_sigma = mode == SNBackward::ThroughSigma;
  // The backward's <G, W_sn> needs x W_sn^T, kept only when W's gradient can be asked for.
  const bool keep_product = through_sigma && GradMode::is_enabled() && weight.requires_grad();
  Tensor product;
  Tensor y = fast->sn_linear_forward(x, weight, bias, factor, keep_product ? &product : nullptr);
  // The kernel declines when x W^T leaves the dtype's range before the factor brings it
  // back (a diverging run's weights): x W_sn^T, with W_sn written out, may still fit.
  if (!y.defined()) return textbook();
  // As in spectral_normalize: this backward keeps the vectors this sigma came from.
  Tensor u, v;
  if (through_sigma) u = terms[0].u.detach().clone(), v = terms[0].v.detach().clone();
  return record("sn_linear", {x, weight, bias}, y,
                [saved_x = save(x, "sn_linear"), saved_w = save(weight, "sn_linear"), product, u, v, factor, scale,
                 term_weight = terms[0].weight, through_sigma, fast](const Tensor& grad_output,
                                                                     const std::vector<bool>& needs) {
                  return fast->sn_linear_backward(grad_output, saved_x.get(), saved_w.get(), product, u, v, factor,
                                                  scale, term_weight, through_sigma, needs);
                });
}

Tensor spectral_normalize_composed(const Tensor& weight, const std::vector<SigmaTerm>& terms, double scale) {
  Tensor sigma;
  for (const SigmaTerm& term : terms) {
    Tensor m = sn_matrix(weight, term.dim);
    Tensor s = sum(mul(term.u.detach(), matvec(m, term.v.detach()))) * term.weight;
    sigma = sigma.defined() ? add(sigma, s) : s;
  }
  return div(mul(weight, scalar_tensor(scale, {weight.dtype(), weight.device(), false})), sigma);
}

Tensor spectral_normalize_through_iterations(const Tensor& weight, std::vector<SigmaTerm>& terms, double scale,
                                             int iterations, double eps, Tensor* sigma_out) {
  Tensor sigma;
  for (SigmaTerm& term : terms) {
    check_term(weight, term);
    Tensor m = sn_matrix(weight, term.dim);
    Tensor u = term.u.detach().clone(), v = term.v.detach().clone();  // the buffers are overwritten below
    for (int k = 0; k < iterations; ++k) {
      u = normalized(matvec(m, v), eps);  // with the graph: the gradient flows through u(W), v(W)
      v = normalized(matvec(m.t(), u), eps);
    }
    Tensor s = sum(mul(u, matvec(m, v))) * term.weight;
    sigma = sigma.defined() ? add(sigma, s) : s;
    NoGradGuard no_grad;
    term.u.copy_(u.detach());
    term.v.copy_(v.detach());
  }
  if (sigma_out) *sigma_out = sigma.detach();
  return div(mul(weight, scalar_tensor(scale, {weight.dtype(), weight.device(), false})), sigma);
}

}  // namespace sg

namespace sg {

namespace {
// Eigenvalues of a symmetric n x n matrix (LAPACK dsyev), descending.
std::vector<double> symmetric_eigenvalues(std::vector<double> a, int n) {
  std::vector<double> values(static_cast<std::size_t>(n));
  const char jobz = 'N', uplo = 'U';
  int lwork = -1, info = 0;
  double query = 0;
  dsyev_(&jobz, &uplo, &n, a.data(), &n, values.data(), &query, &lwork, &info);
  lwork = std::max(1, static_cast<int>(query));
  std::vector<double> work(static_cast<std::size_t>(lwork));
  dsyev_(&jobz, &uplo, &n, a.data(), &n, values.data(), work.data(), &lwork, &info);
  SG_CHECK(info == 0, "top_singular_values: LAPACK dsyev failed (info ", info, ")");
  return {values.rbegin(), values.rend()};
}
}  // namespace

std::vector<double> top_singular_values(const Tensor& matrix, Tensor& block, int iterations) {
  SG_CHECK(matrix.dim() == 2, "top_singular_values: expected a matrix, got ", shape_str(matrix.shape()));
  const int64_t h = matrix.shape()[0], w = matrix.shape()[1];
  SG_CHECK(block.dim() == 2 && block.shape()[0] == w && block.shape()[1] >= 1 && block.shape()[1] <= std::min(h, w),
           "top_singular_values: expected a block of shape (", w, ", k) with 1 <= k <= ", std::min(h, w), ", got ",
           shape_str(block.shape()));
  SG_CHECK(iterations >= 1, "top_singular_values: expected iterations >= 1, got ", iterations);
  const int64_t k = block.shape()[1];
  const std::vector<double> m = matrix.detach().to(DType::Float64).contiguous().to_vector<double>();
  std::vector<double> v = block.detach().to(DType::Float64).contiguous().to_vector<double>();  // (w x k), row-major
  std::vector<double> y(static_cast<std::size_t>(h * k)), z(static_cast<std::size_t>(w * k));
  const auto bh = static_cast<blasint>(h), bw = static_cast<blasint>(w), bk = static_cast<blasint>(k);
  for (int it = 0; it < iterations; ++it) {
    // V <- orth(M^T M V), columns by modified Gram-Schmidt.
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bh, bk, bw, 1.0, m.data(), bw, v.data(), bk, 0.0, y.data(), bk);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bw, bk, bh, 1.0, m.data(), bw, y.data(), bk, 0.0, z.data(), bk);
    auto column_norm = [&](int64_t j) {
      double norm = 0;
      for (int64_t r = 0; r < w; ++r) norm += z[static_cast<std::size_t>(r * k + j)] * z[static_cast<std::size_t>(r * k + j)];
      return std::sqrt(norm);
    };
    for (int64_t j = 0; j < k; ++j) {
      const double before = column_norm(j);
      for (int pass = 0; pass < 2; ++pass)  // twice: one pass leaves rounding error in the directions removed
        for (int64_t i = 0; i < j; ++i) {
          double dot = 0;
          for (int64_t r = 0; r < w; ++r) dot += z[static_cast<std::size_t>(r * k + i)] * z[static_cast<std::size_t>(r * k + j)];
          for (int64_t r = 0; r < w; ++r) z[static_cast<std::size_t>(r * k + j)] -= dot * z[static_cast<std::size_t>(r * k + i)];
        }
      const double norm = column_norm(j);
      // Beyond M's rank the column is rounding noise: zero it (its value then reads 0)
      // rather than normalise noise into a vector that is not orthogonal to the rest.
      const bool keep = norm > 1e-10 * before && norm > 0;
      for (int64_t r = 0; r < w; ++r) z[static_cast<std::size_t>(r * k + j)] = keep ? z[static_cast<std::size_t>(r * k + j)] / norm : 0.0;
    }
    v.swap(z);
  }
  // Rayleigh-Ritz: the singular values of M V are the estimates (from below).
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bh, bk, bw, 1.0, m.data(), bw, v.data(), bk, 0.0, y.data(), bk);
  std::vector<double> gram(static_cast<std::size_t>(k * k));
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bk, bk, bh, 1.0, y.data(), bk, y.data(), bk, 0.0, gram.data(), bk);
  std::vector<double> values = symmetric_eigenvalues(gram, static_cast<int>(k));
  for (double& x : values) x = std::sqrt(std::max(x, 0.0));
  NoGradGuard no_grad;
  block.copy_(from_vector(v, {w, k}, {DType::Float64}));
  return values;
}

std::vector<double> exact_singular_values(const Tensor& matrix) {
  SG_CHECK(matrix.dim() == 2, "exact_singular_values: expected a matrix, got ", shape_str(matrix.shape()));
  const int h = static_cast<int>(matrix.shape()[0]), w = static_cast<int>(matrix.shape()[1]);
  std::vector<double> a = matrix.detach().to(DType::Float64).contiguous().to_vector<double>();
  std::vector<double> s(static_cast<std::size_t>(std::min(h, w)));
  int lwork = -1, info = 0, one = 1;
  double query = 0, unused = 0;
  const char job = 'N';
  dgesvd_(&job, &job, &w, &h, a.data(), &w, s.data(), &unused, &one, &unused, &one, &query, &lwork, &info);
  lwork = std::max(1, static_cast<int>(query));
  std::vector<double> work(static_cast<std::size_t>(lwork));
  dgesvd_(&job, &job, &w, &h, a.data(), &w, s.data(), &unused, &one, &unused, &one, work.data(), &lwork, &info);
  SG_CHECK(info == 0, "exact_singular_values: LAPACK dgesvd failed (info ", info, ") for a ", h, "x", w, " matrix");
  return s;
}

}  // namespace sg
