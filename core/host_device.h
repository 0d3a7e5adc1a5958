#pragma once
// SG_HD marks small functions (scalar math, geometry helpers) that both the CPU code
// and the CUDA kernels call: __host__ __device__ under nvcc, nothing otherwise.
#if defined(__CUDACC__)
#define SG_HD __host__ __device__
#else
#define SG_HD
#endif
