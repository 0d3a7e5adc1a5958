#include "fid.h"

#include <algorithm>
#include <cmath>

#include "ops/ops.h"

extern "C" void dsyev_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                       double* work, const int* lwork, int* info);

namespace sg::examples {

namespace {

// Eigen-decomposition of a symmetric matrix (LAPACK dsyev): values ascending, vectors
// as the columns of `vectors` (column-major, which for a symmetric input is all we need).
void symmetric_eigen(std::vector<double> matrix, int n, std::vector<double>* values, std::vector<double>* vectors) {
  values->assign(static_cast<std::size_t>(n), 0.0);
  int lwork = -1, info = 0;
  double query = 0;
  const char jobz = 'V', uplo = 'U';
  dsyev_(&jobz, &uplo, &n, matrix.data(), &n, values->data(), &query, &lwork, &info);
  lwork = static_cast<int>(query);
  std::vector<double> work(static_cast<std::size_t>(std::max(lwork, 1)));
  dsyev_(&jobz, &uplo, &n, matrix.data(), &n, values->data(), work.data(), &lwork, &info);
  SG_CHECK(info == 0, "frechet_distance: LAPACK dsyev failed (info ", info, ")");
  *vectors = std::move(matrix);
}

// The symmetric square root V diag(sqrt(max(l, 0))) V^T of a PSD matrix.
std::vector<double> sqrt_psd(const std::vector<double>& matrix, int n) {
  std::vector<double> values, vectors;
  symmetric_eigen(matrix, n, &values, &vectors);
  std::vector<double> out(static_cast<std::size_t>(n) * n, 0.0);
  for (int k = 0; k < n; ++k) {
    double s = std::sqrt(std::max(values[static_cast<std::size_t>(k)], 0.0));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        out[static_cast<std::size_t>(i) * n + j] +=
            s * vectors[static_cast<std::size_t>(k) * n + i] * vectors[static_cast<std::size_t>(k) * n + j];
  }
  return out;
}

std::vector<double> multiply(const std::vector<double>& a, const std::vector<double>& b, int n) {
  Tensor ta = from_vector(a, {n, n}, {DType::Float64}), tb = from_vector(b, {n, n}, {DType::Float64});
  return matmul(ta, tb).to_vector<double>();
}

}  // namespace

FeatureStats feature_stats(const Tensor& features) {
  SG_CHECK(features.dim() == 2 && features.shape()[0] >= 2, "feature_stats: expected features (N >= 2, d), got ",
           shape_str(features.shape()));
  NoGradGuard no_grad;
  Tensor f = features.to(DType::Float64);
  const int64_t n = f.shape()[0];
  Tensor mu = mean(f, {0}, true);
  Tensor centred = f - mu;
  Tensor cov = matmul(centred.t(), centred) * (1.0 / static_cast<double>(n - 1));
  return {mu.to_vector<double>(), cov.to_vector<double>(), f.shape()[1]};
}

double frechet_distance(const FeatureStats& a, const FeatureStats& b) {
  SG_CHECK(a.dim == b.dim && a.dim > 0, "frechet_distance: feature sizes differ (", a.dim, " vs ", b.dim, ")");
  const int n = static_cast<int>(a.dim);
  double mean_term = 0;
  for (int i = 0; i < n; ++i) mean_term += std::pow(a.mean[static_cast<std::size_t>(i)] - b.mean[static_cast<std::size_t>(i)], 2);
  // Tr((S_a S_b)^(1/2)) = Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)): the inner matrix is symmetric PSD.
  std::vector<double> root_a = sqrt_psd(a.covariance, n);
  std::vector<double> inner = multiply(multiply(root_a, b.covariance, n), root_a, n);
  for (int i = 0; i < n; ++i)  // symmetrise away rounding before the eigen-decomposition
    for (int j = i + 1; j < n; ++j) {
      double m = 0.5 * (inner[static_cast<std::size_t>(i) * n + j] + inner[static_cast<std::size_t>(j) * n + i]);
      inner[static_cast<std::size_t>(i) * n + j] = inner[static_cast<std::size_t>(j) * n + i] = m;
    }
  std::vector<double> values, vectors;
  symmetric_eigen(inner, n, &values, &vectors);
  double trace_sqrt = 0, trace_a = 0, trace_b = 0;
  for (double v : values) trace_sqrt += std::sqrt(std::max(v, 0.0));
  for (int i = 0; i < n; ++i) {
    trace_a += a.covariance[static_cast<std::size_t>(i) * n + i];
    trace_b += b.covariance[static_cast<std::size_t>(i) * n + i];
  }
  return mean_term + trace_a + trace_b - 2 * trace_sqrt;
}

ClassCoverage class_coverage(const std::vector<int64_t>& predicted, int classes) {
  SG_CHECK(!predicted.empty(), "class_coverage: no predictions");
  ClassCoverage c;
  c.histogram.assign(static_cast<std::size_t>(classes), 0.0);
  for (int64_t p : predicted) {
    SG_CHECK(p >= 0 && p < classes, "class_coverage: class ", p, " out of range 0..", classes - 1);
    c.histogram[static_cast<std::size_t>(p)] += 1.0 / static_cast<double>(predicted.size());
  }
  for (double h : c.histogram) {
    if (h >= 0.01) ++c.modes;
    if (h > 0) c.kl += h * std::log(h * classes);
  }
  return c;
}

}  // namespace sg::examples
