#include "gan_recorded_step.h"

#include "ops/ops.h"

namespace sg::examples {

std::vector<double> RecordedIteration::run(const Tensor& real, const Tensor& z_d, const Tensor& z_g) {
  if (!step_) {
    real_ = zeros(real.shape(), {real.dtype(), device_});
    z_d_ = zeros(z_d.shape(), {z_d.dtype(), device_});
    z_g_ = zeros(z_g.shape(), {z_g.dtype(), device_});
    step_ = std::make_unique<CapturedStep>(device_, [this] {
      std::vector<Tensor> numbers = work_(real_, z_d_, z_g_);
      NoGradGuard no_grad;
      Tensor stacked = stack(numbers).detach();
      if (!numbers_.defined()) numbers_ = zeros_like(stacked);  // made in the first (eager) run
      numbers_.copy_(stacked);
    });
  }
  real_.copy_(real);
  z_d_.copy_(z_d);
  z_g_.copy_(z_g);
  step_->run();
  ++runs_;
  return numbers_.to_vector<double>();
}

}  // namespace sg::examples
