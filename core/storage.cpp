#include "core/storage.h"

#include <atomic>
#include <map>
#include <mutex>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/captured_step.h"
#include "core/error.h"

namespace sg {

namespace {

// Host memory, 64-byte aligned so that vectorised loops start on a cache line, with a
// cache: freed blocks are kept by size and handed out again. A training loop allocates
// the same sizes every iteration, so after the first one no memory comes from the
// system (and no page is faulted in again): without the cache, large buffers went back
// to the kernel on every free and the system time exceeded the compute time.
class CpuInterface final : public DeviceInterface {
 public:
  ~CpuInterface() override { release_cache(); }

  void* allocate(std::size_t nbytes, int) override {
    const std::size_t size = round(nbytes);
    if (kUseCache) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = cache_.find(size);
      if (it != cache_.end()) {
        void* p = it->second;
        cache_.erase(it);
        cached_bytes_ -= size;
        return p;
      }
    }
    ++system_allocations_;
    void* p = std::aligned_alloc(64, size);
    if (!p) {
      release_cache();
      p = std::aligned_alloc(64, size);
    }
    if (!p) detail::throw_error("cpu: out of memory allocating ", nbytes, " bytes");
    return p;
  }

  void deallocate(void* ptr, std::size_t nbytes, int) override {
    const std::size_t size = round(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!kUseCache || cached_bytes_ + size > kCacheLimit) {  // keep the cache bounded
      std::free(ptr);
      return;
    }
    cache_.emplace(size, ptr);
    cached_bytes_ += size;
  }

  void copy_from_host(void* dst, const void* src, std::size_t n, int) override { std::memcpy(dst, src, n); }
  void copy_to_host(void* dst, const void* src, std::size_t n, int) override { std::memcpy(dst, src, n); }
  void copy_within(void* dst, const void* src, std::size_t n, int) override { std::memcpy(dst, src, n); }

  void release_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, p] : cache_) std::free(p);
    cache_.clear();
    cached_bytes_ = 0;
  }

 private:
#ifdef SG_NO_BLOCK_CACHE
  static constexpr bool kUseCache = false;  // sanitizer builds: every block from the system
#else
  static constexpr bool kUseCache = true;
#endif
  static constexpr std::size_t kCacheLimit = std::size_t(2) << 30;  // 2 GiB of idle blocks at most
  static std::size_t round(std::size_t n) { return n <= 64 ? 64 : (n + 63) / 64 * 64; }
  std::multimap<std::size_t, void*> cache_;
  std::size_t cached_bytes_ = 0;
  std::mutex mutex_;

 public:
  std::atomic<int64_t> system_allocations_{0};
};

CpuInterface& cpu_interface() {
  static CpuInterface cpu;
  return cpu;
}

DeviceInterface* g_interfaces[kNumDeviceTypes] = {nullptr, nullptr};
DeviceLoader g_loaders[kNumDeviceTypes] = {nullptr, nullptr};

// Lets a backend that registers itself lazily (CUDA: only once a GPU is found) do so.
void load(DeviceType type) {
  if (DeviceLoader loader = g_loaders[static_cast<int>(type)]) loader();
}

}  // namespace

DeviceInterface& device_interface(DeviceType type) {
  if (type == DeviceType::CPU) return cpu_interface();
  if (!g_interfaces[static_cast<int>(type)]) load(type);
  DeviceInterface* iface = g_interfaces[static_cast<int>(type)];
  SG_CHECK(iface, "device cuda is not available: sigmagrad was built without CUDA "
                  "or no GPU was found (expected a CUDA device, found none)");
  return *iface;
}

// Only a device with graphs (CUDA) overrides these; can_capture() says false elsewhere.
void DeviceInterface::begin_capture(int) { detail::throw_error("this device cannot record a graph"); }
void* DeviceInterface::end_capture(int) { detail::throw_error("this device cannot record a graph"); }
void DeviceInterface::abort_capture(int) {}
void DeviceInterface::replay(void*, int) { detail::throw_error("this device cannot replay a graph"); }
void DeviceInterface::destroy_graph(void*, int) {}

void register_device_interface(DeviceType type, DeviceInterface* iface) {
  g_interfaces[static_cast<int>(type)] = iface;
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t nbytes) {
  if (src_device.is_cpu() != dst_device.is_cpu()) check_not_capturing("a copy between host and device");
  if (src_device.is_cpu() && dst_device.is_cpu()) std::memcpy(dst, src, nbytes);
  else if (src_device.is_cpu()) device_interface(dst_device.type).copy_from_host(dst, src, nbytes, dst_device.index);
  else if (dst_device.is_cpu()) device_interface(src_device.type).copy_to_host(dst, src, nbytes, src_device.index);
  else device_interface(dst_device.type).copy_within(dst, src, nbytes, dst_device.index);
}

void set_device_loader(DeviceType type, DeviceLoader loader) { g_loaders[static_cast<int>(type)] = loader; }

bool device_available(DeviceType type) {
  if (type != DeviceType::CPU && !g_interfaces[static_cast<int>(type)]) load(type);
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

int64_t cpu_system_allocations() { return cpu_interface().system_allocations_.load(); }

}  // namespace sg
