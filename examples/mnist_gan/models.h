#pragma once
// The reference GANs of docs/reference_models.md.
//
// DCGAN-MNIST
//   G: Linear(100, 128*7*7), BatchNorm1d(6272), ReLU, reshape (128, 7, 7),
//      ConvTranspose2d(128, 64, 4, 2, 1), BatchNorm2d(64), ReLU,     -> (64, 14, 14)
//      ConvTranspose2d(64, 1, 4, 2, 1), Tanh                          -> (1, 28, 28)
//   D: Conv2d(1, 64, 4, 2, 1), LeakyReLU(0.2), Conv2d(64, 128, 4, 2, 1), LeakyReLU(0.2),
//      flatten, Linear(6272, 1)
// MLP-GAN
//   G: Linear(100,256) LeakyReLU(0.2) Linear(256,512) LeakyReLU(0.2) Linear(512,784) Tanh
//   D: Linear(784,512) LeakyReLU(0.2) Linear(512,256) LeakyReLU(0.2) Linear(256,1)
#include <memory>
#include <string>
#include <vector>

#include "layers/layers.h"

namespace sg::examples {

inline constexpr int64_t kLatent = 100;

inline std::shared_ptr<Sequential> make_generator(const std::string& model, Generator& gen) {
  using M = std::shared_ptr<Module>;
  if (model == "mlp")
    return std::make_shared<Sequential>(std::initializer_list<M>{
        std::make_shared<Linear>(kLatent, 256, true, gen), std::make_shared<LeakyReLU>(0.2),
        std::make_shared<Linear>(256, 512, true, gen), std::make_shared<LeakyReLU>(0.2),
        std::make_shared<Linear>(512, 784, true, gen), std::make_shared<Tanh>(), std::make_shared<Reshape>(Shape{1, 28, 28})});
  return std::make_shared<Sequential>(std::initializer_list<M>{
      std::make_shared<Linear>(kLatent, 128 * 7 * 7, true, gen), std::make_shared<BatchNorm1d>(128 * 7 * 7),
      std::make_shared<ReLU>(), std::make_shared<Reshape>(Shape{128, 7, 7}),
      std::make_shared<ConvTranspose2d>(128, 64, 4, 2, 1, true, gen), std::make_shared<BatchNorm2d>(64),
      std::make_shared<ReLU>(), std::make_shared<ConvTranspose2d>(64, 1, 4, 2, 1, true, gen), std::make_shared<Tanh>()});
}

inline std::shared_ptr<Sequential> make_discriminator(const std::string& model, Generator& gen) {
  using M = std::shared_ptr<Module>;
  if (model == "mlp")
    return std::make_shared<Sequential>(std::initializer_list<M>{
        std::make_shared<Flatten>(), std::make_shared<Linear>(784, 512, true, gen), std::make_shared<LeakyReLU>(0.2),
        std::make_shared<Linear>(512, 256, true, gen), std::make_shared<LeakyReLU>(0.2),
        std::make_shared<Linear>(256, 1, true, gen)});
  return std::make_shared<Sequential>(std::initializer_list<M>{
      std::make_shared<Conv2d>(1, 64, 4, 2, 1, true, gen), std::make_shared<LeakyReLU>(0.2),
      std::make_shared<Conv2d>(64, 128, 4, 2, 1, true, gen), std::make_shared<LeakyReLU>(0.2),
      std::make_shared<Flatten>(), std::make_shared<Linear>(128 * 7 * 7, 1, true, gen)});
}

// D's weight layers in order: the layers --sn-layers counts (0, 1, 2).
inline std::vector<Module*> weight_layers(Sequential& net) {
  std::vector<Module*> out;
  for (const auto& [name, child] : net.children())
    if (child->has_param("weight") && child->raw_param("weight").dim() >= 2) out.push_back(child.get());
  return out;
}

}  // namespace sg::examples
