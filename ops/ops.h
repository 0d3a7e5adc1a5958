#pragma once
// One include for every op in sigmagrad, and the index of where each op's forward and
// backward live: each ops/<family>.h declares the ops listed next to it, and
// ops/<family>.cpp holds each one's forward with its backward (the lambda given to
// record()) right below it. The view and copy ops that are Tensor members (reshape,
// transpose, clone, to, fill_, ...) are declared in core/tensor.h and defined in
// ops/shape.cpp and ops/copy.cpp. The kernels the ops call are reached through one
// dispatch point, kernels/kernels.h (CPU kernels in cpu/, CUDA kernels in cuda/).
#include "core/autograd.h"
#include "core/generator.h"
#include "core/tensor.h"
#include "ops/activations.h"   // relu, leaky_relu, sigmoid, tanh, softplus ........ ops/activations.cpp
#include "ops/arithmetic.h"    // add, sub, mul, div, neg, pow, + - * / ............ ops/arithmetic.cpp
#include "ops/loss.h"          // mse_loss, binary_cross_entropy_with_logits,
                               //   log_softmax, nll_loss, cross_entropy ............ ops/loss.cpp
#include "ops/math.h"          // exp, log, sqrt, abs, clamp ......................... ops/math.cpp
#include "ops/linear.h"        // linear ............................................. ops/linear.cpp
#include "ops/matmul.h"        // matmul ............................................. ops/matmul.cpp
#include "ops/reduce.h"        // sum, mean, max, min, logsumexp, sum_to_shape ...... ops/reduce.cpp
#include "ops/shape.h"         // cat, stack ......................................... ops/shape.cpp
#include "ops/batch_norm.h"    // batch_norm ......................................... ops/batch_norm.cpp
#include "ops/conv.h"          // conv2d, conv_transpose2d ........................... ops/conv.cpp
#include "ops/conv_norm.h"     // circular_conv_norm, certified_conv_norm, conv_norm_apply,
                               //   conv_norm_adjoint, conv_operator_power_iteration . ops/conv_norm.cpp
#include "ops/dropout.h"       // dropout (composed: autograd's backward) ........... ops/dropout.cpp
#include "ops/pool.h"          // max_pool2d, avg_pool2d ............................. ops/pool.cpp
#include "ops/spectral_norm.h" // spectral_normalize (+ _composed,
                               //   _through_iterations), sn_linear, power_iteration,
                               //   sn_sigma ............................................ ops/spectral_norm.cpp
