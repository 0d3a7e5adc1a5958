// Built only without nvcc: the CUDA backend is absent. kernels() returns no table, so
// kernels_for(cuda) and every CUDA tensor factory say so clearly; the elementwise entry
// points exist (instantiated from the same functor list as the real ones, so a list
// that builds here builds with nvcc too) and are never reached.
#ifndef SG_WITH_CUDA
#include "cuda/backend.h"
#include "kernels/pointwise.h"

namespace sg::cuda {

bool available() { return false; }
const Kernels* kernels() { return nullptr; }
const FastKernels* fast_kernels() { return nullptr; }

template <class F>
Tensor map_unary(const Tensor&, F, const char* op) {
  detail::throw_error(op, ": sigmagrad was built without CUDA");
}
template <class F>
Tensor map_binary(const Tensor&, const Tensor&, const Shape&, F, const char* op) {
  detail::throw_error(op, ": sigmagrad was built without CUDA");
}

#define SG_UNARY(F) template Tensor map_unary<F>(const Tensor&, F, const char*);
#define SG_BINARY(F) template Tensor map_binary<F>(const Tensor&, const Tensor&, const Shape&, F, const char*);
SG_UNARY_FUNCTORS(SG_UNARY)
SG_BINARY_FUNCTORS(SG_BINARY)

}  // namespace sg::cuda
#endif
