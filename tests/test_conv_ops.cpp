// Convolution, transposed convolution, batch norm, pooling, dropout: values and
// float64 gradchecks.
#include <doctest/doctest.h>

#include <functional>

#include "core/parallel.h"
#include "ops/ops.h"
#include "tools/gradcheck.h"

using namespace sg;

namespace {
Tensor f64(const Shape& shape, uint64_t seed, bool requires_grad = true) {
  Generator gen(seed);
  return uniform(shape, -1, 1, gen, {DType::Float64, Device::cpu(), requires_grad});
}

// Direct convolution by its definition, for reference.
double conv_at(const Tensor& x, const Tensor& w, int64_t n, int64_t o, int64_t oh, int64_t ow, int64_t s, int64_t p) {
  double total = 0;
  for (int64_t c = 0; c < x.shape()[1]; ++c)
    for (int64_t i = 0; i < w.shape()[2]; ++i)
      for (int64_t j = 0; j < w.shape()[3]; ++j) {
        int64_t ih = oh * s - p + i, iw = ow * s - p + j;
        if (ih < 0 || iw < 0 || ih >= x.shape()[2] || iw >= x.shape()[3]) continue;
        total += x.at({n, c, ih, iw}) * w.at({o, c, i, j});
      }
  return total;
}
}  // namespace

TEST_CASE("conv2d equals the direct sum over its definition") {
  Tensor x = f64({2, 3, 7, 6}, 1, false), w = f64({4, 3, 3, 3}, 2, false), b = f64({4}, 3, false);
  for (int64_t s : {1, 2})
    for (int64_t p : {0, 1}) {
      CAPTURE(s);
      CAPTURE(p);
      Tensor y = conv2d(x, w, b, s, p);
      REQUIRE(y.shape() == Shape{2, 4, (7 + 2 * p - 3) / s + 1, (6 + 2 * p - 3) / s + 1});
      for (int64_t n = 0; n < 2; ++n)
        for (int64_t o = 0; o < 4; ++o)
          for (int64_t oh = 0; oh < y.shape()[2]; ++oh)
            for (int64_t ow = 0; ow < y.shape()[3]; ++ow)
              REQUIRE(y.at({n, o, oh, ow}) == doctest::Approx(conv_at(x, w, n, o, oh, ow, s, p) + b.at({o})).epsilon(1e-12));
    }
}

TEST_CASE("conv2d gradients pass gradcheck for strides 1 and 2, paddings 0 and 1, with and without bias") {
  for (int64_t s : {1, 2})
    for (int64_t p : {0, 1})
      for (bool with_bias : {true, false}) {
        CAPTURE(s);
        CAPTURE(p);
        CAPTURE(with_bias);
        auto f = [s, p, with_bias](const TensorList& in) {
          return conv2d(in[0], in[1], with_bias ? in[2] : Tensor(), s, p);
        };
        GradcheckResult r = gradcheck(f, {f64({2, 2, 5, 5}, 4), f64({3, 2, 3, 3}, 5), f64({3}, 6)});
        CHECK_MESSAGE(r.passed, r.report);
      }
}

TEST_CASE("conv_transpose2d gradients pass gradcheck") {
  for (int64_t s : {1, 2})
    for (int64_t p : {0, 1}) {
      CAPTURE(s);
      CAPTURE(p);
      auto f = [s, p](const TensorList& in) { return conv_transpose2d(in[0], in[1], in[2], s, p); };
      GradcheckResult r = gradcheck(f, {f64({2, 3, 3, 3}, 7), f64({3, 2, 4, 4}, 8), f64({2}, 9)});
      CHECK_MESSAGE(r.passed, r.report);
    }
}

// A batch equals its images taken one at a time: outputs concatenate, input gradients
// too, and weight and bias gradients add up. A batch of 9 at 14x14 outputs spans several
// threads' parts and several image groups per part (cpu/conv.cpp), which the small
// gradcheck shapes never reach; one image is a single group, checked by gradcheck.
void check_batch_equals_images(const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& op,
                               const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& upstream) {
  auto run = [&](const Tensor& input, const Tensor& g) {
    Tensor xi = input.detach().requires_grad_(), wi = w.detach().requires_grad_(), bi = b.detach().requires_grad_();
    Tensor y = op(xi, wi, bi);
    sum(y * g).backward();
    return std::vector<Tensor>{y.detach(), xi.grad(), wi.grad(), bi.grad()};
  };
  std::vector<Tensor> whole = run(x, upstream);
  std::vector<Tensor> ys, dxs;
  Tensor dw = zeros_like(w.detach()), db = zeros_like(b.detach());
  for (int64_t i = 0; i < x.shape()[0]; ++i) {
    std::vector<Tensor> one = run(x.narrow(0, i, 1).contiguous(), upstream.narrow(0, i, 1).contiguous());
    ys.push_back(one[0]);
    dxs.push_back(one[1]);
    dw = dw + one[2];
    db = db + one[3];
  }
  CHECK(max(abs(whole[0] - cat(ys, 0))).item() < 1e-12);
  CHECK(max(abs(whole[1] - cat(dxs, 0))).item() < 1e-12);
  CHECK(max(abs(whole[2] - dw)).item() < 1e-11);
  CHECK(max(abs(whole[3] - db)).item() < 1e-11);
}

TEST_CASE("conv2d and conv_transpose2d on a batch equal their images one at a time, on 1 and 2 threads") {
  const int saved_threads = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    // conv2d: (9, 2, 28, 28) -> (9, 3, 14, 14), upstream gradient random (not all ones)
    check_batch_equals_images([](const Tensor& x, const Tensor& w, const Tensor& b) { return conv2d(x, w, b, 2, 1); },
                              f64({9, 2, 28, 28}, 1, false), f64({3, 2, 4, 4}, 2, false), f64({3}, 3, false),
                              f64({9, 3, 14, 14}, 4, false));
    // conv_transpose2d: (9, 3, 14, 14) -> (9, 2, 28, 28)
    check_batch_equals_images(
        [](const Tensor& x, const Tensor& w, const Tensor& b) { return conv_transpose2d(x, w, b, 2, 1); },
        f64({9, 3, 14, 14}, 5, false), f64({3, 2, 4, 4}, 6, false), f64({2}, 7, false), f64({9, 2, 28, 28}, 8, false));
  }
  set_num_threads(saved_threads);
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d") {
  // <conv2d(x, w), y> = <x, conv_transpose2d(y, w)> for every x, y, with the same weight.
  for (int64_t s : {1, 2})
    for (int64_t p : {0, 1}) {
      CAPTURE(s);
      CAPTURE(p);
      Tensor w = f64({4, 3, 4, 4}, 10, false);  // conv: 3 -> 4 channels; transposed: 4 -> 3
      Tensor x = f64({2, 3, 8, 8}, 11, false);
      Tensor cx = conv2d(x, w, Tensor(), s, p);
      Tensor y = f64(cx.shape(), 12, false);
      Tensor ty = conv_transpose2d(y, w, Tensor(), s, p);
      REQUIRE(ty.shape() == x.shape());
      CHECK(sum(cx * y).item() == doctest::Approx(sum(x * ty).item()).epsilon(1e-12));
    }
}

TEST_CASE("conv_transpose2d doubles the size at the DCGAN generator's shapes") {
  Tensor x = zeros({1, 128, 7, 7}), w = zeros({128, 64, 4, 4});
  CHECK(conv_transpose2d(x, w, Tensor(), 2, 1).shape() == Shape{1, 64, 14, 14});
}

TEST_CASE("batch_norm in training normalises each channel and updates the running statistics") {
  // Channel 0 holds 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased var 5/3.
  Tensor x = tensor({{1, 10}, {2, 20}, {3, 30}, {4, 40}}, {DType::Float64});
  Tensor rm = zeros({2}, {DType::Float64}), rv = ones({2}, {DType::Float64});
  Tensor y = batch_norm(x, rm, rv, Tensor(), Tensor(), true, 0.1, 0.0);
  CHECK(y.at({0, 0}) == doctest::Approx(-1.5 / std::sqrt(1.25)).epsilon(1e-12));
  CHECK(sum(y, {0}).at({1}) == doctest::Approx(0.0).epsilon(1e-12));
  CHECK(rm.at({0}) == doctest::Approx(0.25).epsilon(1e-12));                  // 0.9*0 + 0.1*2.5
  CHECK(rv.at({0}) == doctest::Approx(0.9 + 0.1 * 5.0 / 3.0).epsilon(1e-12));  // 0.9*1 + 0.1*5/3
}

TEST_CASE("batch_norm in eval uses the running statistics") {
  Tensor x = full({1, 1}, 3.0, {DType::Float64});
  Tensor rm = tensor({1.0}, {DType::Float64}), rv = tensor({4.0}, {DType::Float64});
  Tensor y = batch_norm(x, rm, rv, tensor({2.0}, {DType::Float64}), tensor({0.5}, {DType::Float64}), false, 0.1, 0.0);
  CHECK(y.item() == doctest::Approx((3.0 - 1.0) / 2.0 * 2.0 + 0.5).epsilon(1e-12));
  CHECK(rm.item() == 1.0);  // untouched in eval
}

TEST_CASE("batch_norm gradients pass gradcheck in training and eval, 2-d and 4-d") {
  for (bool training : {true, false})
    for (int dims : {2, 4}) {
      CAPTURE(training);
      CAPTURE(dims);
      Shape shape = dims == 2 ? Shape{5, 3} : Shape{3, 2, 2, 3};
      int64_t c = shape[1];
      auto f = [training, c](const TensorList& in) {
        Tensor rm = zeros({c}, {DType::Float64}), rv = full({c}, 1.5, {DType::Float64});
        return batch_norm(in[0], rm, rv, in[1], in[2], training, 0.1, 1e-5);
      };
      Tensor weight = f64({c}, 13) + 2.0;
      GradcheckResult r = gradcheck(f, {f64(shape, 14), weight.detach().requires_grad_(true), f64({c}, 15)});
      CHECK_MESSAGE(r.passed, r.report);
    }
}

TEST_CASE("max_pool2d takes window maxima and its gradient goes to them") {
  Tensor x = arange(0, 16, 1, {DType::Float64}).reshape({1, 1, 4, 4});
  Tensor y = max_pool2d(x, 2);
  CHECK(y.to_vector<double>() == std::vector<double>{5, 7, 13, 15});
  auto f = [](const TensorList& in) { return max_pool2d(in[0], 3, 2, 1); };
  GradcheckResult r = gradcheck(f, {f64({2, 2, 5, 5}, 16)});
  CHECK_MESSAGE(r.passed, r.report);
}

TEST_CASE("avg_pool2d averages windows, counting padding as zeros") {
  Tensor x = arange(0, 16, 1, {DType::Float64}).reshape({1, 1, 4, 4});
  CHECK(avg_pool2d(x, 2).to_vector<double>() == std::vector<double>{2.5, 4.5, 10.5, 12.5});
  // Top-left 3x3 window with padding 1 covers x[0..1, 0..1] = 0+1+4+5 = 10, divided by 9.
  CHECK(avg_pool2d(x, 3, 2, 1).at({0, 0, 0, 0}) == doctest::Approx(10.0 / 9.0).epsilon(1e-12));
  auto f = [](const TensorList& in) { return avg_pool2d(in[0], 3, 2, 1); };
  GradcheckResult r = gradcheck(f, {f64({2, 2, 5, 5}, 17)});
  CHECK_MESSAGE(r.passed, r.report);
}

TEST_CASE("dropout zeroes about p of the elements, scales the rest, and is the identity in eval") {
  Generator gen(3);
  Tensor x = ones({10000}, {DType::Float64});
  Tensor y = dropout(x, 0.25, true, gen);
  std::vector<double> v = y.to_vector<double>();
  int zeros_seen = 0;
  for (double e : v) {
    REQUIRE((e == 0.0 || e == doctest::Approx(1.0 / 0.75)));
    zeros_seen += e == 0.0;
  }
  CHECK(std::abs(zeros_seen / 10000.0 - 0.25) < 0.02);
  CHECK(dropout(x, 0.25, false, gen).same(x));
  Generator g1(5), g2(5);
  CHECK(dropout(x, 0.5, true, g1).to_vector<double>() == dropout(x, 0.5, true, g2).to_vector<double>());
}

TEST_CASE("dropout's gradient is its mask") {
  Generator gen(4);
  Tensor x = ones({100}, {DType::Float64, Device::cpu(), true});
  Tensor y = dropout(x, 0.5, true, gen);
  sum(y).backward();
  CHECK(x.grad().to_vector<double>() == y.detach().to_vector<double>());
}

TEST_CASE("convolution errors name the shapes") {
  CHECK_THROWS_WITH_AS(conv2d(zeros({1, 3, 5, 5}), zeros({4, 2, 3, 3}), Tensor()),
                       doctest::Contains("input has 3 channels"), Error);
  CHECK_THROWS_WITH_AS(conv2d(zeros({3, 5, 5}), zeros({4, 3, 3, 3}), Tensor()), doctest::Contains("(N, C, H, W)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(zeros({1, 3, 2, 2}), zeros({4, 3, 3, 3}), Tensor()), doctest::Contains("larger than"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(zeros({1, 3, 5, 5}), zeros({4, 3, 3, 3}), zeros({3})), doctest::Contains("bias"), Error);
}
