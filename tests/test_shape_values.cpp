// Forward values of the shape ops and of 0-d tensors, and the table-driven checks over every op case of tests/op_cases.h.
#include <doctest/doctest.h>

#include "values_helpers.h"

using namespace sg_test;
using sg::Tensor;
using namespace values_test;

// ---- shape ops -----------------------------------------------------------------------------------------------

TEST_CASE("cat joins along dim 0 and dim 1") {
  Tensor a = f64_tensor({1, 2, 3, 4}, {2, 2});
  Tensor b = f64_tensor({5, 6}, {1, 2});
  Tensor c = f64_tensor({7, 8, 9, 10}, {2, 2});
  Tensor rows = sg::cat({a, b}, 0);
  CHECK(rows.shape() == Shape{3, 2});
  check_values(rows, {1, 2, 3, 4, 5, 6});
  Tensor cols = sg::cat({a, c, a}, 1);
  CHECK(cols.shape() == Shape{2, 6});
  check_values(cols, {1, 2, 7, 8, 1, 2, 3, 4, 9, 10, 3, 4});
  // Non-contiguous inputs are read through their strides.
  check_values(sg::cat({a.t(), c.t()}, -1), {1, 3, 7, 9, 2, 4, 8, 10});
}

TEST_CASE("stack inserts a new dim") {
  Tensor a = f64_tensor({1, 2, 3}, {3});
  Tensor b = f64_tensor({4, 5, 6}, {3});
  Tensor s0 = sg::stack({a, b}, 0);
  CHECK(s0.shape() == Shape{2, 3});
  check_values(s0, {1, 2, 3, 4, 5, 6});
  Tensor s1 = sg::stack({a, b}, 1);
  CHECK(s1.shape() == Shape{3, 2});
  check_values(s1, {1, 4, 2, 5, 3, 6});
  Tensor last = sg::stack({a, b, a}, -1);
  CHECK(last.shape() == Shape{3, 3});
  check_values(last, {1, 4, 1, 2, 5, 2, 3, 6, 3});
  // 0-d tensors stack into a vector.
  Tensor scalars = sg::stack({sg::scalar_tensor(1.5, f64), sg::scalar_tensor(-2, f64)});
  CHECK(scalars.shape() == Shape{2});
  check_values(scalars, {1.5, -2});
}

TEST_CASE("slice with a step and a negative start is a strided view") {
  Tensor x = sg::arange(0, 10, 1, f64);
  Tensor every_third = x.slice(0, 1, 10, 3);
  check_values(every_third, {1, 4, 7});
  CHECK(every_third.strides() == Shape{3});
  CHECK(every_third.offset() == 1);
  CHECK(shares_storage(every_third, x));
  check_values(x.slice(0, -4, 10, 2), {6, 8});       // start -4 is 6
  check_values(x.slice(0, -4, -1), {6, 7, 8});       // end -1 is 9, exclusive
  check_values(x.slice(0, 7, 100), {7, 8, 9});       // end clamps to the size
  CHECK(x.slice(0, 5, 2).numel() == 0);              // end before start: empty
  Tensor m = iota({3, 4});
  Tensor cols = m.slice(1, 1, 4, 2);  // columns 1 and 3
  CHECK(cols.shape() == Shape{3, 2});
  check_values(cols, {1, 3, 5, 7, 9, 11});
}

TEST_CASE("narrow and select") {
  Tensor x = iota({2, 3, 4});
  Tensor n = x.narrow(2, 1, 2);
  CHECK(n.shape() == Shape{2, 3, 2});
  CHECK(n.at({1, 2, 1}) == 12 + 8 + 2);
  Tensor s = x.select(1, -1);  // j = 2
  CHECK(s.shape() == Shape{2, 4});
  check_values(s, {8, 9, 10, 11, 20, 21, 22, 23});
  check_values(x.select(0, 1).select(0, 0), {12, 13, 14, 15});
  CHECK(shares_storage(s, x));
}

TEST_CASE("squeeze, unsqueeze and flatten change shapes, not values") {
  Tensor x = iota({3, 1, 4});
  CHECK(x.squeeze(1).shape() == Shape{3, 4});
  CHECK(x.squeeze(0).shape() == Shape{3, 1, 4});  // not size 1: unchanged
  CHECK(iota({1, 3, 1}).squeeze().shape() == Shape{3});
  CHECK(x.unsqueeze(0).shape() == Shape{1, 3, 1, 4});
  CHECK(x.unsqueeze(-1).shape() == Shape{3, 1, 4, 1});
  CHECK(x.unsqueeze(3).shape() == Shape{3, 1, 4, 1});
  Tensor y = iota({2, 3, 4});
  CHECK(y.flatten().shape() == Shape{24});
  CHECK(y.flatten(1).shape() == Shape{2, 12});
  CHECK(y.flatten(0, 1).shape() == Shape{6, 4});
  CHECK(sg::scalar_tensor(2.0, f64).flatten().shape() == Shape{1});
  // Flattening a non-contiguous tensor reads it in its own row-major order.
  check_values(y.transpose(0, 2).flatten(), y.transpose(0, 2).contiguous().to_vector<double>());
}

TEST_CASE("permute and transpose reorder dims") {
  Tensor x = iota({2, 3, 4});  // x[i, j, k] = 12 i + 4 j + k
  Tensor p = x.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({3, 1, 2}) == 12 + 8 + 3);  // p[k, i, j] = x[i, j, k]
  CHECK(shares_storage(p, x));
  Tensor t = x.transpose(0, 2);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(t.at({1, 2, 1}) == 12 + 8 + 1);
  Tensor m = iota({2, 3}).t();
  CHECK(m.shape() == Shape{3, 2});
  check_values(m, {0, 3, 1, 4, 2, 5});
}

TEST_CASE("reshape and view keep row-major order and reshape of a non-contiguous tensor copies") {
  Tensor x = iota({3, 4});
  Tensor v = x.view({2, 6});
  CHECK(shares_storage(v, x));
  CHECK(v.at({1, 0}) == 6);
  CHECK(x.reshape({-1, 2}).shape() == Shape{6, 2});
  Tensor xt = x.t();
  Tensor r = xt.reshape({12});
  CHECK_FALSE(shares_storage(r, x));
  check_values(r, {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
}

TEST_CASE("expand has stride 0 and shares storage") {
  Tensor col = f64_tensor({1, 2, 3}, {3, 1});
  Tensor wide = col.expand({3, 4});
  CHECK(wide.shape() == Shape{3, 4});
  CHECK(wide.strides() == Shape{1, 0});
  CHECK(shares_storage(wide, col));
  check_values(wide, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  Tensor lead = f64_tensor({1, 2}, {2}).expand({3, 2});
  CHECK(lead.strides() == Shape{0, 1});
  {
    sg::NoGradGuard no_grad;
    col.select(0, 1).fill_(7);
  }
  CHECK(wide.at({1, 0}) == 7);
  CHECK(wide.at({1, 3}) == 7);
  CHECK(sg::expand(col, {2, -1, 5}).shape() == Shape{2, 3, 5});
}

TEST_CASE("views share storage: writes through one are visible in the other") {
  Tensor base = iota({2, 3});  // [[0, 1, 2], [3, 4, 5]]
  Tensor transposed = base.t();
  Tensor flat = base.view({6});
  Tensor every_other = base.slice(1, 0, 3, 2);  // columns 0 and 2
  {
    sg::NoGradGuard no_grad;
    transposed.select(0, 1).fill_(-1);                            // column 1 of base
    every_other.copy_(f64_tensor({10, 20, 30, 40}, {2, 2}));       // columns 0 and 2
    flat.narrow(0, 4, 1).copy_(sg::scalar_tensor(99, f64));         // base[1, 1], broadcast from 0-d
  }
  check_values(base, {10, -1, 20, 30, 99, 40});
  check_values(transposed, {10, 30, -1, 99, 20, 40});
  // In-place writes bump the shared storage's version (autograd relies on it).
  uint64_t before = base.storage().version();
  {
    sg::NoGradGuard no_grad;
    flat.fill_(0);
  }
  CHECK(base.storage().version() > before);
  check_values(base, {0, 0, 0, 0, 0, 0});
}

TEST_CASE("clone is a fresh contiguous copy and contiguous() copies only when needed") {
  Tensor x = iota({2, 3});
  Tensor c = x.t().clone();
  CHECK(c.is_contiguous());
  CHECK_FALSE(shares_storage(c, x));
  check_values(c, {0, 3, 1, 4, 2, 5});
  {
    sg::NoGradGuard no_grad;
    x.fill_(5);
  }
  CHECK(c.at({0, 1}) == 3);  // unaffected by writes to x
  CHECK(x.contiguous().same(x));
  Tensor made = x.t().contiguous();
  CHECK(made.is_contiguous());
  CHECK_FALSE(shares_storage(made, x));
}

TEST_CASE("to(dtype) converts values: float32 rounds, int64 truncates toward zero") {
  Tensor x = f64_tensor({0.1, -2.7, 2.7, 1e10}, {4});
  std::vector<float> f = x.to(DType::Float32).to_vector<float>();
  CHECK(f[0] == 0.1f);
  CHECK(f[3] == 1e10f);
  Tensor back = x.to(DType::Float32).to(DType::Float64);
  CHECK(back.dtype() == DType::Float64);
  CHECK(back.at({0}) == static_cast<double>(0.1f));
  CHECK(back.at({0}) != 0.1);  // 0.1 is not a float32
  CHECK(x.to(DType::Int64).to_vector<int64_t>() == std::vector<int64_t>{0, -2, 2, 10000000000});
  CHECK(x.to(DType::Float64).same(x));
}

// ---- 0-d tensors ------------------------------------------------------------------------------------------
// A 0-d tensor accepts dim 0 (or -1) where an op takes a dim, as in PyTorch: reductions
// over it return the value itself; ops that need a real dim to index refuse it. Each
// call runs in a child process (outcome 0 = correct, -11 = the child crashed with SIGSEGV).

TEST_CASE("sum, mean and logsumexp over dim 0 of a 0-d tensor return its value") {
  const Tensor s = sg::scalar_tensor(3.0, f64);
  CHECK(value_outcome([&] { return sg::sum(s, {0}); }, 3.0) == 0);
  CHECK(value_outcome([&] { return sg::sum(s, {-1}, true); }, 3.0) == 0);
  CHECK(value_outcome([&] { return sg::mean(s, {0}); }, 3.0) == 0);
  CHECK(value_outcome([&] { return sg::logsumexp(s, {0}); }, 3.0) == 0);  // log(e^3)
  CHECK(value_outcome([&] { return sg::max(s, 0).values; }, 3.0) == 0);
}

TEST_CASE("log_softmax of a 0-d tensor is 0") {
  // x - logsumexp(x) = x - x
  CHECK(value_outcome([] { return sg::log_softmax(sg::scalar_tensor(3.0, f64), 0); }, 0.0) == 0);
  CHECK(value_outcome([] { return sg::log_softmax(sg::scalar_tensor(-7.5, f64), -1); }, 0.0) == 0);
}

TEST_CASE("transpose(0, 0) of a 0-d tensor is the tensor itself") {
  CHECK(value_outcome([] { return sg::scalar_tensor(3.0, f64).transpose(0, 0); }, 3.0) == 0);
}

TEST_CASE("slice, narrow and select refuse a 0-d tensor with an sg::Error") {
  const Tensor s = sg::scalar_tensor(3.0, f64);
  CHECK(error_outcome([&] { s.slice(0, 0, 1); }) == 0);
  CHECK(error_outcome([&] { s.narrow(0, 0, 1); }) == 0);
  CHECK(error_outcome([&] { s.select(0, 0); }) == 0);
}

TEST_CASE("cat refuses 0-d tensors with an sg::Error (stack them instead)") {
  CHECK(error_outcome([] { sg::cat({sg::scalar_tensor(1.0, f64), sg::scalar_tensor(2.0, f64)}); }) == 0);
  CHECK(error_outcome([] { sg::cat({sg::scalar_tensor(1.0, f64)}, -1); }) == 0);
}

// ---- table-driven: every op case of tests/op_cases.h -------------------------------------------------

TEST_CASE("float32 forward results are close to the float64 ones for every op case") {
  for (const OpCase& c : op_cases()) {
    INFO("op case: \"" << c.name << "\"");
    try {
      std::vector<double> y64 = c.fn(make_inputs(c, DType::Float64, Layout::Contiguous)).to_vector<double>();
      Tensor out32 = c.fn(make_inputs(c, DType::Float32, Layout::Contiguous));
      std::vector<double> y32 = out32.to_vector<double>();
      REQUIRE(y32.size() == y64.size());
      for (std::size_t i = 0; i < y64.size(); ++i) {
        INFO("element " << i);
        // Inputs rounded to float32 (relative 6e-8) and float32 arithmetic.
        CHECK(y32[i] == doctest::Approx(y64[i]).epsilon(2e-5));
      }
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << std::string(e.what()));
    }
  }
}

TEST_CASE("non-contiguous inputs give the same forward values as contiguous ones for every op case") {
  for (const OpCase& c : op_cases()) {
    if (!c.non_contiguous_variant) continue;
    INFO("op case: \"" << c.name << "\"");
    try {
      for (DType dtype : {DType::Float64, DType::Float32}) {
        INFO("dtype " << std::string(sg::dtype_name(dtype)));
        Tensor dense = c.fn(make_inputs(c, dtype, Layout::Contiguous));
        Tensor strided = c.fn(make_inputs(c, dtype, Layout::NonContiguous));
        REQUIRE(strided.shape() == dense.shape());
        CHECK(strided.dtype() == dense.dtype());
        std::vector<double> a = dense.to_vector<double>(), b = strided.to_vector<double>();
        for (std::size_t i = 0; i < a.size(); ++i) {
          INFO("element " << i);
          CHECK(b[i] == doctest::Approx(a[i]).epsilon(dtype == DType::Float64 ? 1e-12 : 1e-5));
        }
      }
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << std::string(e.what()));
    }
  }
}
