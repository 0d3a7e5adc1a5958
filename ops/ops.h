#pragma once
// One include for every op in sigmagrad. Each ops/<family>.h below declares one family
// of ops as free functions (spectral normalisation and the certified convolution norm
// included), and the matching .cpp file holds each op's forward and backward side by
// side. The view and copy ops that are Tensor members (reshape, transpose, clone, to,
// fill_, ...) are declared in core/tensor.h, which comes in here too, with the tensor
// factories and, through core/generator.h, the random ones. Not included: the CPU
// kernel machinery the ops are built on (ops/elementwise.h, gemm.h, im2col.h,
// conv_cpu.h), which declares no op.
#include "core/autograd.h"
#include "core/generator.h"
#include "core/tensor.h"
#include "ops/activations.h"
#include "ops/arithmetic.h"
#include "ops/loss.h"
#include "ops/math.h"
#include "ops/linear.h"
#include "ops/matmul.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/batch_norm.h"
#include "ops/conv.h"
#include "ops/conv_norm.h"
#include "ops/dropout.h"
#include "ops/pool.h"
#include "ops/spectral_norm.h"
