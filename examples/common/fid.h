#pragma once
// Scores for generated digits, from a trained MNIST classifier:
//   MNIST-FID: the Frechet distance between Gaussians fitted to the classifier's
//     penultimate features of generated and of real images,
//       ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2));
//   modes: how many digit classes receive at least 1% of the samples;
//   KL: KL(predicted-class histogram || uniform over 10 classes).
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace sg::examples {

struct FeatureStats {
  std::vector<double> mean;        // d
  std::vector<double> covariance;  // d x d, row-major, unbiased
  int64_t dim = 0;
};

// Features (N, d) -> their mean and covariance (float64).
FeatureStats feature_stats(const Tensor& features);
double frechet_distance(const FeatureStats& a, const FeatureStats& b);

struct ClassCoverage {
  int modes = 0;        // classes with at least 1% of the samples
  double kl = 0;        // KL(histogram || uniform)
  std::vector<double> histogram;
};
ClassCoverage class_coverage(const std::vector<int64_t>& predicted, int classes = 10);

}  // namespace sg::examples
