#pragma once
// Every op in sigmagrad. Each header lists one family of ops; the matching .cpp file
// holds each op's forward and backward side by side.
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
#include "ops/dropout.h"
#include "ops/pool.h"
