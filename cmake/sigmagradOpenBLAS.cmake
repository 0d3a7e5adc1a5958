# Finds OpenBLAS (libopenblas and cblas.h) and makes it the imported target
# sigmagrad::openblas. sigmagrad's CMakeLists.txt includes this file, and so does the
# installed sigmagradConfig.cmake, next to which it is installed: the package re-finds
# OpenBLAS on the consumer's machine instead of carrying the build machine's absolute
# path in its link interface.
# Why not CMake's FindBLAS: sigmagrad calls OpenBLAS's own openblas_set_num_threads, and
# in a consumer's project BLAS::BLAS may already stand for another vendor's BLAS. Debian's
# OpenBLASConfig.cmake sets path variables only, no target.
if(NOT TARGET sigmagrad::openblas)
  find_library(OPENBLAS_LIBRARY NAMES openblas)
  find_path(OPENBLAS_INCLUDE_DIR NAMES cblas.h PATH_SUFFIXES openblas x86_64-linux-gnu)
  if(OPENBLAS_LIBRARY AND OPENBLAS_INCLUDE_DIR)
    add_library(sigmagrad::openblas UNKNOWN IMPORTED)
    set_target_properties(sigmagrad::openblas PROPERTIES
      IMPORTED_LOCATION "${OPENBLAS_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${OPENBLAS_INCLUDE_DIR}")
  endif()
endif()
