#include "cuda/cublas_library.cuh"

#include <dlfcn.h>

#include <string>

#include "core/error.h"

namespace sg::cuda {

namespace {

// A macro's expansion as a string: SG_SYMBOL(cublasCreate) is "cublasCreate_v2", the name
// the library exports.
#define SG_STRINGIFY(x) #x
#define SG_SYMBOL(x) SG_STRINGIFY(x)

void* open_cublas() {
  // The major version this backend was compiled against; the toolkit's library folder as
  // a fallback when the loader's search path does not hold it.
  const std::string name = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
#ifdef SG_CUBLAS_LIBRARY_DIR
  if (handle == nullptr)
    handle = dlopen((std::string(SG_CUBLAS_LIBRARY_DIR) + "/" + name).c_str(), RTLD_NOW | RTLD_LOCAL);
#endif
  if (handle == nullptr) {
    const char* why = dlerror();
    detail::throw_error("cuda: cannot open cuBLAS (", name, "): ", why ? why : "not found",
                        " (install the CUDA toolkit's cuBLAS, or add its folder to LD_LIBRARY_PATH)");
  }
  return handle;
}

template <class F>
void find(void* library, F& function, const char* symbol) {
  function = reinterpret_cast<F>(dlsym(library, symbol));
  if (function == nullptr) detail::throw_error("cuda: cuBLAS has no function ", symbol, " (an older version?)");
}

}  // namespace

const CublasLibrary& cublas_library() {
  static const CublasLibrary library = [] {
    void* handle = open_cublas();  // kept open for the process's lifetime
    CublasLibrary l;
    find(handle, l.create, SG_SYMBOL(cublasCreate));
    find(handle, l.destroy, SG_SYMBOL(cublasDestroy));
    find(handle, l.set_stream, SG_SYMBOL(cublasSetStream));
    find(handle, l.set_workspace, SG_SYMBOL(cublasSetWorkspace));
    find(handle, l.status_string, SG_SYMBOL(cublasGetStatusString));
    find(handle, l.sgemm_strided_batched, SG_SYMBOL(cublasSgemmStridedBatched));
    find(handle, l.dgemm_strided_batched, SG_SYMBOL(cublasDgemmStridedBatched));
    return l;
  }();
  return library;
}

}  // namespace sg::cuda
