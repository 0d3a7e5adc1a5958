#pragma once
// Every layer in sigmagrad.
#include "layers/batch_norm.h"
#include "layers/conv.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/sequential.h"
#include "layers/simple.h"
