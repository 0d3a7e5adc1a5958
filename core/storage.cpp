#include "core/storage.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"
#include "cuda/backend.h"

namespace sg {

namespace {

// Host memory, 64-byte aligned so that vectorised loops start on a cache line.
class CpuInterface final : public DeviceInterface {
 public:
  void* allocate(std::size_t nbytes, int) override {
    std::size_t rounded = (nbytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!p) detail::throw_error("cpu: out of memory allocating ", nbytes, " bytes");
    return p;
  }
  void deallocate(void* ptr, std::size_t, int) override { std::free(ptr); }
  void copy_from_host(void* dst, const void* src, std::size_t n, int) override { std::memcpy(dst, src, n); }
  void copy_to_host(void* dst, const void* src, std::size_t n, int) override { std::memcpy(dst, src, n); }
  void copy_within(void* dst, const void* src, std::size_t n, int) override { std::memcpy(dst, src, n); }
};

DeviceInterface* g_interfaces[kNumDeviceTypes] = {nullptr, nullptr};

}  // namespace

DeviceInterface& device_interface(DeviceType type) {
  if (type == DeviceType::CPU) {
    static CpuInterface cpu;
    return cpu;
  }
  if (type == DeviceType::CUDA) cuda::available();  // registers the CUDA interface when a GPU is present
  DeviceInterface* iface = g_interfaces[static_cast<int>(type)];
  SG_CHECK(iface, "device cuda is not available: sigmagrad was built without CUDA "
                  "or no GPU was found (expected a CUDA device, found none)");
  return *iface;
}

void register_device_interface(DeviceType type, DeviceInterface* iface) {
  g_interfaces[static_cast<int>(type)] = iface;
}

bool device_available(DeviceType type) {
  if (type == DeviceType::CUDA) cuda::available();
  return type == DeviceType::CPU || g_interfaces[static_cast<int>(type)] != nullptr;
}

namespace {
std::atomic<int64_t> g_live_storages{0};
}

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = device_interface(device.type).allocate(nbytes, device.index);
  ++g_live_storages;
}

Storage::~Storage() {
  if (data_) device_interface(device_.type).deallocate(data_, nbytes_, device_.index);
  --g_live_storages;
}

int64_t Storage::live_count() { return g_live_storages.load(); }

}  // namespace sg
