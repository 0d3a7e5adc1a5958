#pragma once
// A reference-counted block of memory on one device. Tensors are views into a
// Storage (shape, strides, offset); many tensors may share one.
//
// The version counter is bumped by every in-place write. Autograd records the
// version of each tensor it saves for backward and refuses to use it if the
// version has moved on (core/autograd.h, SavedTensor).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace sg {

class Storage {
 public:
  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

  // How many Storage objects exist right now (leak tests: flat across a training loop).
  static int64_t live_count();

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
  uint64_t version_ = 0;
};

// How many host blocks the CPU allocator has taken from the system (not from its cache):
// flat across the iterations of a training loop once the first ones have run.
int64_t cpu_system_allocations();

}  // namespace sg
