#pragma once
// Where a tensor's storage lives. Every device type has one DeviceInterface that
// allocates, frees and copies its memory; ops never call malloc or cudaMalloc themselves.
#include <cstddef>
#include <string>

namespace sg {

enum class DeviceType : uint8_t { CPU = 0, CUDA = 1 };
inline constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const {
    return is_cpu() ? "cpu" : "cuda:" + std::to_string(index);
  }
};

// Memory services of one device type. CPU's is built in; CUDA's is registered by the
// cuda/ backend itself (cuda/context.cu) the first time it is asked for, through the
// loader that the dispatch point (kernels/kernels.cpp) sets: core/ knows no backend.
class DeviceInterface {
 public:
  virtual ~DeviceInterface() = default;
  virtual void* allocate(std::size_t nbytes, int index) = 0;
  virtual void deallocate(void* ptr, std::size_t nbytes, int index) = 0;
  // Copies between this device's memory and host memory, or within this device.
  virtual void copy_from_host(void* dst, const void* host_src, std::size_t nbytes, int index) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, std::size_t nbytes, int index) = 0;
  virtual void copy_within(void* dst, const void* src, std::size_t nbytes, int index) = 0;

  // Waits for the queued work; reports errors the device found meanwhile.
  virtual void synchronize(int) {}

  // Recording the device's work as a graph and replaying it (core/captured_step.h); only
  // CUDA has them. begin_capture: from now on the work queued on the device is recorded,
  // not run, and the memory handed out is the graph's own. end_capture: the graph, ready
  // to replay. abort_capture: a recording that failed, discarded with its memory.
  virtual bool can_capture() const { return false; }
  virtual void begin_capture(int index);
  virtual void* end_capture(int index);
  virtual void abort_capture(int index);
  virtual void replay(void* graph, int index);
  virtual void destroy_graph(void* graph, int index);
};

// The interface for a device type; throws a clear error when that backend is absent.
DeviceInterface& device_interface(DeviceType type);
void register_device_interface(DeviceType type, DeviceInterface* iface);
bool device_available(DeviceType type);
// Moves nbytes from src (on src_device) to dst (on dst_device): host to device, device
// to host, or within one device, by that device's interface.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t nbytes);
// A function that registers a device type's interface (if it can) when first needed.
using DeviceLoader = bool (*)();
void set_device_loader(DeviceType type, DeviceLoader loader);

}  // namespace sg
