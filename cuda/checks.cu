// Checks on values the ops compute (kernels/kernels.h), without waiting for the device.
// A one-thread kernel tests the value and, when it fails, writes the check's number and
// the value into host memory mapped into the device's address space. The host looks at
// that slot whenever it has waited for the device anyway (cuda/context.cu calls
// raise_deferred_errors() after every synchronisation) and throws the check's message
// then. The messages are kept by number for the life of the process, so a check inside a
// captured graph still has its message when a replay fails it; a check that passes never
// formats its message (kernels/kernels.h, CheckedValue).
#include <atomic>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cuda/backend.h"
#include "cuda/context.cuh"

namespace sg::cuda {

namespace {

struct FailedCheck {
  int number;  // 0: none failed since the last look
  double value;
};

template <class T>
__global__ void positive_finite_kernel(const T* value, int number, FailedCheck* slot) {
  const T v = *value;
  if (!(v > T(0) && isfinite(v)) && slot->number == 0) {
    slot->value = static_cast<double>(v);
    __threadfence_system();
    slot->number = number;
  }
}

// A check's number is found from its (what, shape) without formatting the message: `what`
// is a string literal, compared by address (the same text at two addresses just gets two
// numbers), and the shape by value.
struct CheckKey {
  const char* what;
  bool has_shape;
  Shape shape;
};
struct CheckKeyLess {
  using is_transparent = void;
  static bool less(const char* a_what, const Shape* a_shape, const char* b_what, const Shape* b_shape) {
    if (a_what != b_what) return std::less<const char*>()(a_what, b_what);
    if (!a_shape || !b_shape) return !a_shape && b_shape;  // no shape first
    return *a_shape < *b_shape;
  }
  static const Shape* shape_of(const CheckKey& k) { return k.has_shape ? &k.shape : nullptr; }
  bool operator()(const CheckKey& a, const CheckKey& b) const { return less(a.what, shape_of(a), b.what, shape_of(b)); }
  bool operator()(const CheckKey& a, const CheckedValue& b) const { return less(a.what, shape_of(a), b.what, b.shape); }
  bool operator()(const CheckedValue& a, const CheckKey& b) const { return less(a.what, a.shape, b.what, shape_of(b)); }
};

struct Checks {
  std::mutex mutex;
  std::vector<std::string> messages{""};  // by number; 0 means none
  std::map<CheckKey, int, CheckKeyLess> numbers;
  FailedCheck* host = nullptr;
  FailedCheck* device = nullptr;
  Checks() {
    check(cudaHostAlloc(reinterpret_cast<void**>(&host), sizeof(FailedCheck), cudaHostAllocMapped), "checks");
    host->number = 0;
    check(cudaHostGetDevicePointer(reinterpret_cast<void**>(&device), host, 0), "checks");
  }
  int number_of(const CheckedValue& what) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = numbers.find(what);
    if (it != numbers.end()) return it->second;
    const int number = static_cast<int>(messages.size());
    messages.push_back(what.str());  // formatted once per distinct check
    numbers.emplace(CheckKey{what.what, what.shape != nullptr, what.shape ? *what.shape : Shape{}}, number);
    return number;
  }
};

// Made by the first check queued and never freed (kernels may still write the slot at
// exit); null until then, so that a wait with no check behind it costs one load.
std::atomic<Checks*> instance{nullptr};
std::once_flag made;

Checks& checks() {
  std::call_once(made, [] { instance.store(new Checks); });
  return *instance.load();
}

}  // namespace

void require_positive_finite(const Tensor& value, const CheckedValue& what) {
  SG_CHECK(value.numel() == 1, what.str(), ": expected one value, got shape ", shape_str(value.shape()));
  Checks& c = checks();
  const int number = c.number_of(what);
  dispatch_float(value.dtype(), "require_positive_finite", [&](auto zero) {
    using T = decltype(zero);
    positive_finite_kernel<T><<<1, 1, 0, stream()>>>(value.data<T>(), number, c.device);
  });
  check_launch("require_positive_finite");
}

void raise_deferred_errors() {
  Checks* made_checks = instance.load();
  if (!made_checks) return;  // no check was ever queued
  Checks& c = *made_checks;
  volatile FailedCheck* slot = c.host;
  const int number = slot->number;
  if (number == 0) return;
  const double value = slot->value;
  slot->number = 0;
  std::string what;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    what = c.messages.at(static_cast<std::size_t>(number));
  }
  detail::throw_error(what, " is ", value, " (expected a positive finite value; found by the device, reported at ",
                      "the next wait for it)");
}

}  // namespace sg::cuda
