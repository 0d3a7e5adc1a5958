#pragma once
// Helpers shared by test_ops_values.cpp and test_shape_values.cpp.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>
#include <sys/wait.h>
#include <unistd.h>
#include "op_cases.h"

using namespace sg_test;
using sg::Tensor;

namespace values_test {

constexpr double kLn2 = 0.69314718055994530942;
const sg::TensorOptions f64{DType::Float64};
const sg::TensorOptions f32{DType::Float32};

inline Tensor f64_tensor(const std::vector<double>& values, const Shape& shape) {
  return sg::from_vector(values, shape, f64);
}

inline Tensor int64_tensor(const std::vector<int64_t>& values) { return sg::from_vector(values, {DType::Int64}); }

// 0, 1, 2, ... in the given shape, float64.
inline Tensor iota(const Shape& shape) { return sg::arange(0, static_cast<double>(sg::shape_numel(shape)), 1, f64).reshape(shape); }

// Every element of t (row-major) equals `expected` to within eps * (1 + |expected|) (doctest::Approx).
inline void check_values(const Tensor& t, const std::vector<double>& expected, double eps = 1e-12) {
  std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << " (row-major)");
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(eps));
  }
}

// a == b to relative precision eps, however small they are (Approx alone adds an absolute eps).
inline bool rel_close(double a, double b, double eps) { return std::abs(a - b) <= eps * std::max(std::abs(a), std::abs(b)); }

inline bool shares_storage(const Tensor& a, const Tensor& b) { return &a.storage() == &b.storage(); }

// Runs `body` in a child process, so that a crash fails the calling test instead of
// killing the whole test binary. Returns body's result, or -signal when the child crashed.
inline int outcome_in_child(const std::function<int()>& body) {
  pid_t child = fork();
  if (child < 0) return -1000;
  if (child == 0) {
    int code = 97;
    try {
      code = body();
    } catch (...) {
      code = 98;  // an unexpected exception
    }
    _exit(code);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return -1001;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// 0 when f throws sg::Error; 2 when it returns; 3 for another exception; -signal on a crash.
inline int error_outcome(const std::function<void()>& f) {
  return outcome_in_child([&] {
    try {
      f();
      return 2;
    } catch (const sg::Error&) {
      return 0;
    } catch (...) {
      return 3;
    }
  });
}

// 0 when f's 0-d result equals `expected`; 1 for another value or shape; -signal on a crash.
inline int value_outcome(const std::function<Tensor()>& f, double expected) {
  return outcome_in_child([&] {
    Tensor y = f();
    return y.dim() == 0 && std::abs(y.item() - expected) <= 1e-12 * (1 + std::abs(expected)) ? 0 : 1;
  });
}

}  // namespace values_test
