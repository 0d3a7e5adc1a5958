#pragma once
// How Lipschitz is a network? lipschitz_report() bounds it from both sides:
//   above: the product of every layer's certified operator norm (ops/conv_norm.h for
//          convolutions, the exact SVD for Linear, known constants for activations
//          such as LeakyReLU: max(1, |slope|)), a guaranteed upper bound;
//   below: the largest norm of the input gradient of the model's output over a batch
//          of real inputs, a Lipschitz constant the model really attains there.
// Per weight layer it also shows why spectral normalisation's sigma is not the layer's
// norm: the reshaped kernel's sigma, the operator norm estimated by power iteration
// (from below) and the certified bound (from above).
#include <string>
#include <vector>

#include "layers/sequential.h"

namespace sg {

struct LayerLipschitz {
  std::string name, type;
  Shape input_shape;              // what the layer sees, batch 1
  bool has_weight = false;
  double reshaped_sigma = 0;      // largest singular value of the weight as SN reshapes it (SVD)
  double operator_lower = 0;      // power iteration through the layer's operator
  double certified_upper = 0;     // the layer's certified Lipschitz bound
};

struct LipschitzReport {
  std::vector<LayerLipschitz> layers;
  double certified_bound = 1;   // product of the layers' certified_upper
  double empirical_lower = 0;   // max over the inputs of ||d model(x) / dx||
  int64_t empirical_samples = 0;
  std::string table() const;    // the per-layer table and both bounds, as text
};

struct LipschitzOptions {
  int power_iterations = 50;  // for operator_lower
};

// The report for `model` (a Sequential of Linear, Conv2d, ConvTranspose2d, BatchNorm,
// activations, Flatten/Reshape, pooling, Dropout) at input shape (1, ...), with the
// weights it computes with in eval mode (SN applied). `inputs` (N, ...), when defined,
// give the empirical bound; the model's output must be one value per input. The
// model's training mode and every buffer (SN's recorded sigma included) are restored
// afterwards. A layer type without a known bound is an error.
LipschitzReport lipschitz_report(Sequential& model, const Shape& input_shape, const Tensor& inputs = Tensor(),
                                 LipschitzOptions options = {});

}  // namespace sg
