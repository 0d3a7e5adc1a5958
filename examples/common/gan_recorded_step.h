#pragma once
// --cuda-graph (examples/mnist_gan): one GAN iteration recorded once and replayed with
// core/captured_step.h (one CUDA graph on a GPU; on the CPU the same path, run again).
// A recorded step reads fixed tensors and writes fixed tensors: the inputs (this rank's
// real images, D's noise, G's noise) are copied into fixed tensors before each run, and
// the iteration's numbers are copied out of one fixed tensor after it.
#include <functional>
#include <memory>
#include <vector>

#include "core/captured_step.h"
#include "core/tensor.h"

namespace sg::examples {

class RecordedIteration {
 public:
  // The iteration's device work on its inputs; returns its numbers as 0-d tensors.
  using Work = std::function<std::vector<Tensor>(const Tensor& real, const Tensor& z_d, const Tensor& z_g)>;
  RecordedIteration(Device device, Work work) : device_(device), work_(std::move(work)) {}
  // Copies the inputs in, runs the step (recording it on first use), returns the numbers.
  std::vector<double> run(const Tensor& real, const Tensor& z_d, const Tensor& z_g);
  // Iterations run through it so far, and whether they replay a recorded graph (a GPU)
  // rather than run the step again under the recording's checks (the CPU).
  int64_t runs() const { return runs_; }
  bool replays_a_graph() const { return step_ && step_->recorded(); }

 private:
  Device device_;
  Work work_;
  int64_t runs_ = 0;
  Tensor real_, z_d_, z_g_, numbers_;
  std::unique_ptr<CapturedStep> step_;
};

}  // namespace sg::examples
