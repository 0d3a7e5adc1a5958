#pragma once
// cuBLAS, opened on first use rather than linked. Linking libcublas made every program
// built on sigmagrad start 0.4 s slower and 216 MB larger (libcublasLt's start-up), also
// CPU-only runs that never touch a GPU: each test process, each example's --help. Now the
// first cuBLAS call opens the library (dlopen) and looks up the few functions the backend
// uses; a missing library is an sg::Error that names it. (Measured with /usr/bin/time on an
// empty C program linked to libcublas alone, CUDA 13: 0.42 s, 216 MB; linked to nothing, 0.00 s.)
#include <cublas_v2.h>

namespace sg::cuda {

struct CublasLibrary {
  // The functions by the names cublas_v2.h gives them (cublasCreate is cublasCreate_v2).
  decltype(&cublasCreate) create;
  decltype(&cublasDestroy) destroy;
  decltype(&cublasSetStream) set_stream;
  decltype(&cublasSetWorkspace) set_workspace;
  decltype(&cublasGetStatusString) status_string;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasDgemmStridedBatched) dgemm_strided_batched;
};

// Opens cuBLAS once (thread-safe); throws if the library or one of its functions is missing.
const CublasLibrary& cublas_library();

}  // namespace sg::cuda
