#pragma once
// Spectral normalisation as an operator: W_sn = scale * W / sigma(W).
//
// M is W with axis `dim` moved to the front and the other axes flattened (h x w).
// sigma is estimated from persistent vectors u (h) and v (w): sigma = u . (M v).
// power_iteration() refines u, v in place (no graph):
//   repeat k times:  u <- N(M v),  v <- N(M^T u),   N(x) = x / max(||x||, eps)
//
// spectral_normalize() treats u and v as constants (Miyato et al.; PyTorch's
// parametrization). With G = dL/dW_sn and S = d sigma / dW = unflatten(u v^T):
//   through_sigma (default):  dL/dW = (scale / sigma) (G - <G, W>/sigma * S)
//                             = (scale / sigma) (G - <G, W_sn>/scale * S)
//   detach_sigma:             dL/dW = (scale / sigma) G
// A sigma made of several terms (BSN: the mean of two reshapes' sigmas) is a weighted
// sum sigma = sum_k a_k u_k . (M_k v_k), and then S = sum_k a_k unflatten_k(u_k v_k^T).
// The derivation is in docs/spectral_norm.md.
#include <vector>

#include "core/tensor.h"

namespace sg {

enum class SNBackward { ThroughSigma, DetachSigma, ThroughIterations };

// One term of sigma: weight * u . (M_dim v).
struct SigmaTerm {
  int64_t dim = 0;
  Tensor u, v;  // (h), (w): constants for the backward
  double weight = 1.0;
};

// W viewed as the (h x w) matrix M for `dim` (differentiable; a view when possible).
Tensor sn_matrix(const Tensor& weight, int64_t dim);
// The inverse: an (h x w) matrix back to W's shape and axis order.
Tensor sn_unflatten(const Tensor& matrix, const Shape& weight_shape, int64_t dim);

// k power-iteration steps on u, v in place (no graph), in the order u then v. Returns
// sigma = u . (M v) for the final pair as a 0-d tensor on the matrix's device, read off
// the last step's ||M^T u|| (no extra pass over M). k = 0 changes nothing and returns
// u . (M v) for the pair as it is.
Tensor power_iteration(const Tensor& matrix, Tensor& u, Tensor& v, int iterations, double eps = 1e-12);
// u . (M v) as a 0-d tensor on the matrix's device (no graph), and as a double.
Tensor sn_sigma_tensor(const Tensor& matrix, const Tensor& u, const Tensor& v);
double sn_sigma(const Tensor& matrix, const Tensor& u, const Tensor& v);
// ||M v - sigma u|| / sigma: 0 when (u, v) is an exact singular pair. (After an update
// v <- N(M^T u), the other condition M^T u = sigma v holds by construction.)
double sn_residual(const Tensor& matrix, const Tensor& u, const Tensor& v);
// The largest singular value and its vectors by LAPACK's SVD (dgesvd, float64).
double exact_top_singular(const Tensor& matrix, Tensor* u = nullptr, Tensor* v = nullptr);

// The k largest singular values of M, estimated by one or more steps of block power
// (subspace) iteration on the persistent (w x k) block V, k <= min(h, w):
//   V <- orth(M^T M V) (modified Gram-Schmidt), then the singular values of M V
// (Rayleigh-Ritz), descending. Estimates from below that converge as the block does;
// `block` is refined in place. For the spectrum telemetry (Liu et al., ICCV 2019:
// many singular values dropping at once comes with mode collapse).
std::vector<double> top_singular_values(const Tensor& matrix, Tensor& block, int iterations = 1);
// Every singular value of M by LAPACK's SVD, descending.
std::vector<double> exact_singular_values(const Tensor& matrix);

// W_sn = scale * W / sigma with the hand-written backward above. `sigma_out` (if given)
// receives sigma as a detached 0-d tensor on the weight's device (nothing is read back
// to the host on a GPU). mode must be ThroughSigma or DetachSigma.
// `known_sigma` (if given) is sigma already computed from these terms: it is used as is.
Tensor spectral_normalize(const Tensor& weight, const std::vector<SigmaTerm>& terms, double scale, SNBackward mode,
                          Tensor* sigma_out = nullptr, const Tensor* known_sigma = nullptr);

// A Linear layer with a spectrally normalised weight: linear(x, W_sn, bias) with
// W_sn = spectral_normalize(weight, terms, scale, mode, nullptr, known_sigma). That
// composition is the textbook computation (two graph nodes, W_sn written out). On the CPU,
// for one term along dim 0, the fast kernel never writes W_sn: scale / sigma is the
// alpha of the layer's GEMMs, and the backward's rank-one correction is folded into the
// weight-gradient GEMM (cpu::sn_linear_forward / sn_linear_backward, one graph node).
// x (N, in), weight (out, in), bias (out) or undefined. mode: ThroughSigma or DetachSigma.
Tensor sn_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const std::vector<SigmaTerm>& terms,
                 double scale, SNBackward mode, const Tensor* known_sigma = nullptr);

// The same forward built from differentiable primitives (autograd derives the
// backward). The reference the hand-written backward is tested against.
Tensor spectral_normalize_composed(const Tensor& weight, const std::vector<SigmaTerm>& terms, double scale);

// through_iterations: starting from v (detached), runs `iterations` power-iteration
// steps *with* the graph, so the gradient also flows through u(W) and v(W).
// Returns scale * W / sigma and writes the final u, v (detached) back into the terms.
Tensor spectral_normalize_through_iterations(const Tensor& weight, std::vector<SigmaTerm>& terms, double scale,
                                             int iterations, double eps, Tensor* sigma_out = nullptr);

}  // namespace sg
