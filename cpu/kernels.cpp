// The CPU's kernel tables: the functions of cpu/backend.h, by the names kernels/kernels.h lists.
#include "cpu/backend.h"

namespace sg::cpu {

const Kernels& kernels() {
  static const Kernels table = make_table<Kernels>(SG_KERNELS);
  return table;
}

const FastKernels& fast_kernels() {
  static const FastKernels table = make_table<FastKernels>(SG_FAST_KERNELS);
  return table;
}

}  // namespace sg::cpu
