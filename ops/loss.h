#pragma once
// Losses and log_softmax. Forward and backward: ops/loss.cpp.
#include "ops/activations.h"
#include "core/tensor.h"

namespace sg {

enum class Reduction { Mean, Sum, None };

// mean((input - target)^2), composed from primitives (its backward is autograd's).
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// Binary cross-entropy on logits x with targets y in [0, 1], in the stable form
// max(x, 0) - x y + log(1 + e^-|x|) that never overflows.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);
// x - logsumexp(x) along dim.
Tensor log_softmax(const Tensor& x, int64_t dim = -1);
// -log_probs[i, target[i]] averaged (or summed) over i. log_probs: (N, C); target: int64 (N).
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction = Reduction::Mean);
// nll_loss(log_softmax(logits, 1), target).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace sg
