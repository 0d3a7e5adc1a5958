#pragma once
// A training step recorded once and replayed. On a GPU the recording is one CUDA graph:
// every kernel of the step (forwards, backwards, optimiser steps) goes to the device in
// one launch, with no host work per step. On the CPU there is nothing to record: run()
// calls the step again each time, under the same checks, so that a program is written
// once and the CPU tests check what a recording requires.
//
// What a captured step requires (the first is checked on every device whenever the step
// runs after its first run: a clear error names what broke it):
//  - nothing inside it waits for the device: no item(), to_vector() or copy between host
//    and device, and no tensor made from host values (from_vector, a random draw: a
//    replay would reuse the first values). A graph replays device work only; read
//    results after run(), draw random inputs before it.
//  - inputs come in through tensors made before the first run() and filled (copy_) before
//    each run(); outputs leave through tensors made before and copy_'d into inside the
//    step. Tensors made inside the step live in the graph's own memory.
//  - a step that throws while recording leaves nothing recorded; the error is rethrown.
//  - host values that change between steps are frozen when the step is recorded: an SN
//    policy's switches, SGD's first-step flag, which parameters are frozen
//    (requires_grad_). Call reset() after changing one (or loading a checkpoint); the
//    next run() is a warm-up again, and the one after it records.
//    The optimisers keep what changes on the device instead: Adam counts its steps
//    there, so its bias corrections move on with each replay, and a learning rate set
//    with set_lr() between runs is the one the next replay uses.
//  - everything the step reads or writes (parameters, optimiser state, inputs, outputs)
//    outlives the CapturedStep.
#include <functional>

#include "core/device.h"

namespace sg {

class CapturedStep {
 public:
  CapturedStep(Device device, std::function<void()> step);
  ~CapturedStep();
  CapturedStep(const CapturedStep&) = delete;
  CapturedStep& operator=(const CapturedStep&) = delete;

  // The first call runs the step as it is, unchecked: what is made or read once and kept
  // (library handles, cached memory, SN's on/off flag) is made or read then, not inside a
  // recording. The second records the step and replays the recording; later calls
  // replay it. (On the CPU every later call runs the step again, checked.)
  void run();
  // Forgets the recording: the next run() is a warm-up again (eager, unchecked), and the
  // one after it records.
  void reset();
  // True once a graph is recorded (never on the CPU, which has none).
  bool recorded() const { return graph_ != nullptr; }
  Device device() const { return device_; }

 private:
  void record();
  Device device_;
  std::function<void()> step_;
  bool warmed_up_ = false;
  void* graph_ = nullptr;
};

// True while this thread runs a step inside CapturedStep::run().
bool capturing_step();
// A clear error naming `what` while a step is captured: it would wait for the device.
void check_not_capturing(const char* what);

// Waits for the work queued on `device` (a no-op on the CPU); errors that a device
// reports late (core/device.h) surface here.
void synchronize(Device device);

}  // namespace sg
