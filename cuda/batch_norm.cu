// Batch norm on the GPU: the CUDA side of cpu/batch_norm.cpp. Per-channel statistics
// are reduced by one block per channel in a fixed order (deterministic).
#include "cuda/backend.h"
#include "cuda/context.cuh"

namespace sg::cuda {

namespace {

// Sums f(k) over the n*s elements of channel c, k the element's index in x; in double.
template <class F>
__device__ double channel_sum(int64_t n, int64_t c, int64_t channels, int64_t s, F f) {
  __shared__ double partial[kThreads];
  double total = 0;
  for (int64_t e = threadIdx.x; e < n * s; e += blockDim.x) total += f((e / s * channels + c) * s + e % s);
  partial[threadIdx.x] = total;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) partial[threadIdx.x] += partial[threadIdx.x + step];
    __syncthreads();
  }
  double result = partial[0];
  __syncthreads();
  return result;
}

template <class T>
__global__ void bn_stats_kernel(const T* x, T* mean_out, T* inv_std, T* running_mean, T* running_var, int64_t n,
                                int64_t channels, int64_t s, bool training, double momentum, double eps) {
  const int64_t c = blockIdx.x;
  double mean, var;
  if (training) {
    const double m = static_cast<double>(n * s);
    mean = channel_sum(n, c, channels, s, [&](int64_t k) { return static_cast<double>(x[k]); }) / m;
    double squares = channel_sum(n, c, channels, s, [&](int64_t k) {
      double d = x[k] - mean;
      return d * d;
    });
    var = squares / m;
    if (threadIdx.x == 0 && running_mean) {
      running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mean);
      running_var[c] = static_cast<T>((1 - momentum) * running_var[c] + momentum * squares / (m - 1));
    }
  } else {
    mean = running_mean[c];
    var = running_var[c];
  }
  if (threadIdx.x == 0) {
    mean_out[c] = static_cast<T>(mean);
    inv_std[c] = static_cast<T>(1.0 / sqrt(var + eps));
  }
}

template <class T>
__global__ void bn_apply_kernel(const T* x, T* y, T* x_hat, const T* mean, const T* inv_std, const T* weight,
                                const T* bias, int64_t total, int64_t channels, int64_t s) {
  SG_CUDA_LOOP(k, total) {
    const int64_t c = (k / s) % channels;
    T h = (x[k] - mean[c]) * inv_std[c];
    x_hat[k] = h;
    y[k] = h * (weight ? weight[c] : T(1)) + (bias ? bias[c] : T(0));
  }
}

template <class T>
__global__ void bn_grad_sums_kernel(const T* g, const T* x_hat, double* sums, T* dweight, T* dbias, int64_t n,
                                    int64_t channels, int64_t s) {
  const int64_t c = blockIdx.x;
  double sum_g = channel_sum(n, c, channels, s, [&](int64_t k) { return static_cast<double>(g[k]); });
  double sum_gh = channel_sum(n, c, channels, s, [&](int64_t k) { return static_cast<double>(g[k]) * x_hat[k]; });
  if (threadIdx.x == 0) {
    sums[2 * c] = sum_g;
    sums[2 * c + 1] = sum_gh;
    if (dweight) dweight[c] = static_cast<T>(sum_gh);
    if (dbias) dbias[c] = static_cast<T>(sum_g);
  }
}

template <class T>
__global__ void bn_dx_kernel(const T* g, const T* x_hat, const double* sums, const T* inv_std, const T* weight, T* dx,
                             int64_t total, int64_t channels, int64_t s, double m, bool training) {
  SG_CUDA_LOOP(k, total) {
    const int64_t c = (k / s) % channels;
    const T scale = (weight ? weight[c] : T(1)) * inv_std[c];
    const T mean_g = training ? static_cast<T>(sums[2 * c] / m) : T(0);
    const T mean_gh = training ? static_cast<T>(sums[2 * c + 1] / m) : T(0);
    dx[k] = scale * (g[k] - mean_g - x_hat[k] * mean_gh);
  }
}

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& y, const Tensor& x_hat, const Tensor& inv_std,
                        const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, const BatchNormShape& shape, bool training, double momentum,
                        double eps) {
  const int64_t n = shape.n, c = shape.c, s = shape.s;
  Tensor mean = empty({c}, {x.dtype(), x.device(), false});
  dispatch_float(x.dtype(), "batch_norm", [&](auto zero) {
    using T = decltype(zero);
    bn_stats_kernel<<<static_cast<unsigned>(c), kThreads, 0, stream()>>>(
        x.data<T>(), mean.data<T>(), inv_std.data<T>(), ptr<T>(running_mean), ptr<T>(running_var), n, c, s, training,
        momentum, eps);
    bn_apply_kernel<<<blocks(x.numel()), kThreads, 0, stream()>>>(x.data<T>(), y.data<T>(), x_hat.data<T>(),
                                                                  mean.data<T>(), inv_std.data<T>(), ptr<T>(weight),
                                                                  ptr<T>(bias), x.numel(), c, s);
  });
  check_launch("batch_norm");
}

void batch_norm_backward(const Tensor& grad, const Tensor& x_hat, const Tensor& inv_std, const Tensor& weight,
                         const Tensor& dx, const Tensor& dweight, const Tensor& dbias, const BatchNormShape& shape,
                         bool training) {
  const int64_t n = shape.n, c = shape.c, s = shape.s;
  Tensor sums = empty({2 * c}, {DType::Float64, grad.device(), false});
  dispatch_float(grad.dtype(), "batch_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    bn_grad_sums_kernel<<<static_cast<unsigned>(c), kThreads, 0, stream()>>>(
        grad.data<T>(), x_hat.data<T>(), sums.data<double>(), ptr<T>(dweight), ptr<T>(dbias), n, c, s);
    if (dx.defined())
      bn_dx_kernel<<<blocks(grad.numel()), kThreads, 0, stream()>>>(
          grad.data<T>(), x_hat.data<T>(), sums.data<double>(), inv_std.data<T>(), ptr<T>(weight), dx.data<T>(),
          grad.numel(), c, s, static_cast<double>(n * s), training);
  });
  check_launch("batch_norm_backward");
}

}  // namespace sg::cuda
