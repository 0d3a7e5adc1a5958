// Operator norms of convolutions (the maths is in ops/conv_norm.h).
#include "ops/conv_norm.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "core/autograd.h"
#include "ops/ops.h"

extern "C" void zheev_(const char* jobz, const char* uplo, const int* n, std::complex<double>* a, const int* lda,
                       double* w, std::complex<double>* work, const int* lwork, double* rwork, int* info);

namespace sg {

namespace {

using Complex = std::complex<double>;

// The conv as a stride-1 conv on the polyphase components (ops/conv_norm.h, step 2):
// kernel[o][c2][a2][b2] with c2 = (c * s + a mod s) * s + b mod s, a2 = a div s, b2 = b div s.
struct PolyphaseKernel {
  int64_t out = 0, in = 0, kh = 0, kw = 0, stride = 1;  // of the original weight
  int64_t in2 = 0, kh2 = 0, kw2 = 0;                     // of the stride-1 equivalent
  std::vector<double> taps;                              // (out, in2, kh2, kw2), zeros where no tap lands

  std::size_t index(int64_t o, int64_t c, int64_t a, int64_t b) const {  // original tap -> taps[]
    const int64_t c2 = (c * stride + a % stride) * stride + b % stride;
    return static_cast<std::size_t>(((o * in2 + c2) * kh2 + a / stride) * kw2 + b / stride);
  }
};

PolyphaseKernel polyphase(const Tensor& weight, int64_t stride) {
  Tensor w = weight.detach().to(Device::cpu()).to(DType::Float64).contiguous();
  PolyphaseKernel k;
  k.out = w.shape()[0], k.in = w.shape()[1], k.kh = w.shape()[2], k.kw = w.shape()[3], k.stride = stride;
  k.in2 = k.in * stride * stride;
  k.kh2 = (k.kh + stride - 1) / stride;
  k.kw2 = (k.kw + stride - 1) / stride;
  k.taps.assign(static_cast<std::size_t>(k.out * k.in2 * k.kh2 * k.kw2), 0.0);
  const double* p = w.data<double>();
  for (int64_t o = 0; o < k.out; ++o)
    for (int64_t c = 0; c < k.in; ++c)
      for (int64_t a = 0; a < k.kh; ++a)
        for (int64_t b = 0; b < k.kw; ++b) k.taps[k.index(o, c, a, b)] = *p++;
  return k;
}

// The symbol of the stride-1 conv at frequency (f1, f2) of an mh x mw canvas:
// K[o][c] = sum_{a, b} taps[o][c][a][b] e^{2 pi i (a f1 / mh + b f2 / mw)}, column-major
// (K[o + c * out]), and the phases it used, per tap.
struct Symbol {
  std::vector<Complex> matrix, phases;
};

Symbol symbol_at(const PolyphaseKernel& k, int64_t f1, int64_t f2, int64_t mh, int64_t mw) {
  Symbol s;
  s.phases.resize(static_cast<std::size_t>(k.kh2 * k.kw2));
  for (int64_t a = 0; a < k.kh2; ++a)
    for (int64_t b = 0; b < k.kw2; ++b) {
      const double angle = 2 * std::numbers::pi * (static_cast<double>(a * f1) / static_cast<double>(mh) +
                                                   static_cast<double>(b * f2) / static_cast<double>(mw));
      s.phases[static_cast<std::size_t>(a * k.kw2 + b)] = std::polar(1.0, angle);
    }
  s.matrix.assign(static_cast<std::size_t>(k.out * k.in2), Complex(0, 0));
  const std::size_t taps_per_pair = s.phases.size();
  for (int64_t o = 0; o < k.out; ++o)
    for (int64_t c = 0; c < k.in2; ++c) {
      const double* t = &k.taps[static_cast<std::size_t>(o * k.in2 + c) * taps_per_pair];
      Complex sum(0, 0);
      for (std::size_t j = 0; j < taps_per_pair; ++j) sum += t[j] * s.phases[j];
      s.matrix[static_cast<std::size_t>(o + c * k.out)] = sum;
    }
  return s;
}

// Eigenvalues (ascending) of the Gram matrix of K on its smaller side, and with
// want_vectors the eigenvectors in place of the Gram matrix (column-major).
struct Gram {
  int n = 0;
  bool left = false;  // true: K K^H (out x out); false: K^H K (in2 x in2)
  std::vector<Complex> matrix;
  std::vector<double> eigenvalues;
};

Gram gram_eigen(const PolyphaseKernel& k, const Symbol& s, bool want_vectors) {
  Gram gram;
  gram.left = k.out <= k.in2;
  gram.n = static_cast<int>(gram.left ? k.out : k.in2);
  gram.matrix.assign(static_cast<std::size_t>(gram.n) * static_cast<std::size_t>(gram.n), Complex(0, 0));
  const auto out = static_cast<blasint>(k.out), in2 = static_cast<blasint>(k.in2);
  if (gram.left)
    cblas_zherk(CblasColMajor, CblasUpper, CblasNoTrans, out, in2, 1.0, s.matrix.data(), out, 0.0, gram.matrix.data(), out);
  else
    cblas_zherk(CblasColMajor, CblasUpper, CblasConjTrans, in2, out, 1.0, s.matrix.data(), out, 0.0, gram.matrix.data(), in2);
  gram.eigenvalues.resize(static_cast<std::size_t>(gram.n));
  const char jobz = want_vectors ? 'V' : 'N', uplo = 'U';
  int lwork = -1, info = 0;
  Complex query;
  std::vector<double> rwork(static_cast<std::size_t>(std::max(1, 3 * gram.n - 2)));
  zheev_(&jobz, &uplo, &gram.n, gram.matrix.data(), &gram.n, gram.eigenvalues.data(), &query, &lwork, rwork.data(), &info);
  lwork = std::max(1, static_cast<int>(query.real()));
  std::vector<Complex> work(static_cast<std::size_t>(lwork));
  zheev_(&jobz, &uplo, &gram.n, gram.matrix.data(), &gram.n, gram.eigenvalues.data(), work.data(), &lwork, rwork.data(), &info);
  SG_CHECK(info == 0, "certified_conv_norm: LAPACK zheev failed (info ", info, ") on a ", gram.n, "x", gram.n, " Gram matrix");
  return gram;
}

// The largest singular value over all frequencies, where it is reached, and (on
// request) d sigma / d weight at that frequency, in the original weight's layout.
struct CircularNorm {
  double sigma = 0;
  std::vector<double> gradient;
};

CircularNorm circular_norm(const Tensor& weight, int64_t stride, int64_t canvas_h, int64_t canvas_w, bool want_gradient) {
  SG_CHECK(weight.dim() == 4, "circular_conv_norm: expected a 4-d weight (out, in, kh, kw), got ", shape_str(weight.shape()));
  SG_CHECK(stride >= 1 && canvas_h > 0 && canvas_w > 0 && canvas_h % stride == 0 && canvas_w % stride == 0,
           "circular_conv_norm: expected a canvas divisible by the stride ", stride, ", got ", canvas_h, "x", canvas_w);
  const PolyphaseKernel k = polyphase(weight, stride);
  const int64_t mh = canvas_h / stride, mw = canvas_w / stride;
  // K(-f) is the complex conjugate of K(f) for a real kernel (same singular values):
  // half of the second frequency axis is enough.
  // One frequency at a time: OpenBLAS's LAPACK crashed (zlatrd) when two of sigmagrad's
  // pool threads ran zheev at once, so this loop stays on the calling thread.
  double best = -1;
  int64_t best_f1 = 0, best_f2 = 0;
  for (int64_t f1 = 0; f1 < mh; ++f1)
    for (int64_t f2 = 0; f2 <= mw / 2; ++f2) {
      const double top = gram_eigen(k, symbol_at(k, f1, f2, mh, mw), false).eigenvalues.back();
      if (top > best) best = top, best_f1 = f1, best_f2 = f2;
    }
  CircularNorm result;
  result.sigma = std::sqrt(std::max(best, 0.0));
  if (!want_gradient || result.sigma == 0) {
    if (want_gradient) result.gradient.assign(static_cast<std::size_t>(weight.numel()), 0.0);
    return result;
  }
  // The top singular pair at f*: one side from the Gram eigenvector, the other as
  // K^H u / sigma or K v / sigma.
  const Symbol s = symbol_at(k, best_f1, best_f2, mh, mw);
  const Gram gram = gram_eigen(k, s, true);
  const Complex* e = &gram.matrix[static_cast<std::size_t>(gram.n - 1) * static_cast<std::size_t>(gram.n)];
  std::vector<Complex> u(static_cast<std::size_t>(k.out)), v(static_cast<std::size_t>(k.in2));
  for (int64_t o = 0; o < k.out; ++o)
    for (int64_t c = 0; c < k.in2; ++c) {
      const Complex kc = s.matrix[static_cast<std::size_t>(o + c * k.out)];
      if (gram.left) {
        u[static_cast<std::size_t>(o)] = e[o];
        v[static_cast<std::size_t>(c)] += std::conj(kc) * e[o] / result.sigma;
      } else {
        v[static_cast<std::size_t>(c)] = e[c];
        u[static_cast<std::size_t>(o)] += kc * e[c] / result.sigma;
      }
    }
  // d sigma = Re(u^H dK v), dK[o][c] = sum_taps dW'[o][c][a][b] phase[a][b].
  result.gradient.resize(static_cast<std::size_t>(weight.numel()));
  std::size_t flat = 0;
  for (int64_t o = 0; o < k.out; ++o)
    for (int64_t c = 0; c < k.in; ++c)
      for (int64_t a = 0; a < k.kh; ++a)
        for (int64_t b = 0; b < k.kw; ++b) {
          const int64_t c2 = (c * stride + a % stride) * stride + b % stride;
          const Complex phase = s.phases[static_cast<std::size_t>((a / stride) * k.kw2 + b / stride)];
          result.gradient[flat++] = std::real(std::conj(u[static_cast<std::size_t>(o)]) *
                                              v[static_cast<std::size_t>(c2)] * phase);
        }
  return result;
}

void check_geometry(const Tensor& weight, const ConvNormGeometry& geometry, const char* op) {
  SG_CHECK(weight.dim() == 4, op, ": expected a 4-d convolution weight, got ", shape_str(weight.shape()));
  SG_CHECK(geometry.stride >= 1 && geometry.padding >= 0 && geometry.input_height > 0 && geometry.input_width > 0, op,
           ": expected stride >= 1, padding >= 0 and a positive input size, got stride ", geometry.stride, ", padding ",
           geometry.padding, ", input ", geometry.input_height, "x", geometry.input_width);
}

// The plain convolution the norm is taken of: a transposed conv is the adjoint of
// conv2d with the same weight tensor at the transposed conv's output size.
std::pair<int64_t, int64_t> conv_input_size(const Tensor& weight, const ConvNormGeometry& geometry) {
  if (!geometry.transposed) return {geometry.input_height, geometry.input_width};
  return {(geometry.input_height - 1) * geometry.stride - 2 * geometry.padding + weight.shape()[2],
          (geometry.input_width - 1) * geometry.stride - 2 * geometry.padding + weight.shape()[3]};
}

int64_t canvas_side(int64_t n, int64_t k, int64_t s, int64_t p) {
  const int64_t n_out = (n + 2 * p - k) / s + 1;
  // No tap of a kept output wraps onto real input (N >= n + p, and n + k - 1 - p), and
  // every kept output has its own place on the canvas (N / s >= n_out).
  int64_t side = std::max({n + std::max(p, k - 1 - p), s * n_out, k});
  return (side + s - 1) / s * s;
}

}  // namespace

double circular_conv_norm(const Tensor& weight, int64_t stride, int64_t canvas_h, int64_t canvas_w) {
  return circular_norm(weight, stride, canvas_h, canvas_w, false).sigma;
}

std::pair<int64_t, int64_t> certified_canvas(const Tensor& weight, const ConvNormGeometry& geometry) {
  check_geometry(weight, geometry, "certified_conv_norm");
  auto [n_h, n_w] = conv_input_size(weight, geometry);
  SG_CHECK(n_h > 0 && n_w > 0, "certified_conv_norm: the transposed convolution's output would be ", n_h, "x", n_w,
           " (input ", geometry.input_height, "x", geometry.input_width, ", stride ", geometry.stride, ", padding ", geometry.padding, ")");
  SG_CHECK(n_h + 2 * geometry.padding >= weight.shape()[2] && n_w + 2 * geometry.padding >= weight.shape()[3],
           "certified_conv_norm: the kernel ", weight.shape()[2], "x", weight.shape()[3], " does not fit the padded input ",
           n_h, "x", n_w, " (padding ", geometry.padding, ")");
  return {canvas_side(n_h, weight.shape()[2], geometry.stride, geometry.padding), canvas_side(n_w, weight.shape()[3], geometry.stride, geometry.padding)};
}

// sigma = max_f sigma_max(K(f)) on the certified canvas     dsigma/dW: see circular_norm
Tensor certified_conv_norm(const Tensor& weight, const ConvNormGeometry& geometry) {
  auto [canvas_h, canvas_w] = certified_canvas(weight, geometry);
  const bool want_gradient = GradMode::is_enabled() && weight.requires_grad();
  CircularNorm norm = circular_norm(weight, geometry.stride, canvas_h, canvas_w, want_gradient);
  Tensor sigma = scalar_tensor(norm.sigma, {weight.dtype(), weight.device(), false});
  if (!want_gradient) return sigma;
  Tensor dsigma_dw = from_vector(norm.gradient, weight.shape(), {DType::Float64}).to(weight.dtype()).to(weight.device());
  return record("certified_conv_norm", {weight}, sigma, [dsigma_dw](const Tensor& grad_output, const std::vector<bool>&) {
    return TensorList{mul(dsigma_dw, grad_output)};
  });
}

Shape conv_norm_input_shape(const Tensor& weight, const ConvNormGeometry& geometry) {
  check_geometry(weight, geometry, "conv_norm");
  return {1, weight.shape()[geometry.transposed ? 0 : 1], geometry.input_height, geometry.input_width};
}

Shape conv_norm_output_shape(const Tensor& weight, const ConvNormGeometry& geometry) {
  NoGradGuard no_grad;
  return conv_norm_apply(weight, geometry, zeros(conv_norm_input_shape(weight, geometry), {weight.dtype(), weight.device(), false})).shape();
}

Tensor conv_norm_apply(const Tensor& weight, const ConvNormGeometry& geometry, const Tensor& x) {
  return geometry.transposed ? conv_transpose2d(x, weight, Tensor(), geometry.stride, geometry.padding)
                      : conv2d(x, weight, Tensor(), geometry.stride, geometry.padding);
}

// A^T y as the gradient of <y, A x> in x: exact for any geometry, including the inputs
// whose last rows a strided conv never reads (conv_transpose2d's shape would differ).
Tensor conv_norm_adjoint(const Tensor& weight, const ConvNormGeometry& geometry, const Tensor& y) {
  Tensor x = zeros(conv_norm_input_shape(weight, geometry), {weight.dtype(), weight.device(), true});
  struct GradModeOn {  // restored even when the conv throws
    bool was = GradMode::is_enabled();
    GradModeOn() { GradMode::set_enabled(true); }
    ~GradModeOn() { GradMode::set_enabled(was); }
  } grad_on;
  Tensor inner = sum(mul(conv_norm_apply(weight.detach(), geometry, x), y.detach()));
  return grad(inner, {x}, Tensor(), false)[0];
}

double conv_operator_power_iteration(const Tensor& weight, const ConvNormGeometry& geometry, Tensor& u, Tensor& v,
                                     int iterations, double eps) {
  SG_CHECK(iterations >= 1, "conv_operator_power_iteration: expected iterations >= 1, got ", iterations);
  SG_CHECK(v.shape() == conv_norm_input_shape(weight, geometry), "conv_operator_power_iteration: expected v of shape ",
           shape_str(conv_norm_input_shape(weight, geometry)), ", got ", shape_str(v.shape()));
  NoGradGuard no_grad;
  Tensor w = weight.detach();
  auto norm_of = [](const Tensor& t) { return std::sqrt(sum(mul(t, t)).item()); };
  double sigma = 0;
  for (int k = 0; k < iterations; ++k) {
    Tensor av = conv_norm_apply(w, geometry, v);
    SG_CHECK(u.shape() == av.shape(), "conv_operator_power_iteration: expected u of shape ", shape_str(av.shape()),
             ", got ", shape_str(u.shape()));
    u.copy_(av * (1.0 / std::max(norm_of(av), eps)));
    Tensor back = conv_norm_adjoint(w, geometry, u);
    sigma = norm_of(back);  // <u, A v_new> = ||A^T u|| once v_new = A^T u / ||A^T u||
    v.copy_(back * (1.0 / std::max(sigma, eps)));
  }
  return sigma;
}

}  // namespace sg
