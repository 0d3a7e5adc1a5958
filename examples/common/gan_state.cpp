#include "gan_state.h"

#include "core/autograd.h"

namespace sg::examples {

Tensor GanState::sample(const Tensor& z) {
  NoGradGuard no_grad;
  generator->eval();
  Tensor images = generator->forward(z.to(device));
  generator->train();
  return images.to(Device::cpu());
}

}  // namespace sg::examples
