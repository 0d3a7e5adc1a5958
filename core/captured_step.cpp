#include "core/captured_step.h"

#include "core/error.h"

namespace sg {

namespace {

thread_local int capturing = 0;

// Marks this thread as inside a captured step for the guard's lifetime.
struct CapturingGuard {
  CapturingGuard() { ++capturing; }
  ~CapturingGuard() { --capturing; }
};

}  // namespace

bool capturing_step() { return capturing > 0; }

void check_not_capturing(const char* what) {
  SG_CHECK(capturing == 0, what, " inside a captured step: it would wait for the device, and a recorded step "
           "replays device work only (expected results read after CapturedStep::run(), inputs copied in before it)");
}

void synchronize(Device device) {
  check_not_capturing("synchronize()");
  if (!device.is_cpu()) device_interface(device.type).synchronize(device.index);
}

CapturedStep::CapturedStep(Device device, std::function<void()> step) : device_(device), step_(std::move(step)) {
  SG_CHECK(step_ != nullptr, "CapturedStep: expected a step function, got an empty one");
}

CapturedStep::~CapturedStep() { reset(); }

void CapturedStep::reset() {
  // The next run() is eager again: what reset() is called after (a flag switched, a
  // parameter unfrozen, a checkpoint loaded) may leave something to make or read once,
  // such as SGD's first step of a parameter or a flag read back, and a recording refuses
  // a read-back or bakes in a first step.
  warmed_up_ = false;
  if (!graph_) return;
  void* graph = graph_;
  graph_ = nullptr;
  device_interface(device_.type).destroy_graph(graph, device_.index);
}

void CapturedStep::record() {
  DeviceInterface& device = device_interface(device_.type);
  device.begin_capture(device_.index);
  try {
    CapturingGuard guard;
    step_();
  } catch (...) {
    device.abort_capture(device_.index);
    throw;
  }
  graph_ = device.end_capture(device_.index);
}

void CapturedStep::run() {
  if (!warmed_up_) {  // as it is: what is made or read once and kept is made or read now
    step_();
    warmed_up_ = true;
    return;
  }
  if (!device_interface(device_.type).can_capture()) {  // the CPU: the step again, checked
    CapturingGuard guard;
    step_();
    return;
  }
  if (!graph_) record();
  device_interface(device_.type).replay(graph_, device_.index);
}

}  // namespace sg
