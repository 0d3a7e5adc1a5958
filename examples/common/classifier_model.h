#pragma once
// The MNIST classifier: two conv blocks and two linear layers.
//   (N,1,28,28) -> Conv 1->32 3x3 pad 1, ReLU, MaxPool 2 -> (N,32,14,14)
//               -> Conv 32->64 3x3 pad 1, ReLU, MaxPool 2 -> (N,64,7,7)
//               -> Flatten, Linear 3136->128, ReLU        -> features (N,128)
//               -> Dropout 0.25, Linear 128->10            -> logits (N,10)
// features() is what the GAN example's MNIST-FID compares.
#include "layers/layers.h"

namespace sg::examples {

class MnistClassifier : public Module {
 public:
  explicit MnistClassifier(Generator& gen) {
    body_ = register_module("body", std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
                                        std::make_shared<Conv2d>(1, 32, 3, 1, 1, true, gen), std::make_shared<ReLU>(),
                                        std::make_shared<MaxPool2d>(2),
                                        std::make_shared<Conv2d>(32, 64, 3, 1, 1, true, gen), std::make_shared<ReLU>(),
                                        std::make_shared<MaxPool2d>(2), std::make_shared<Flatten>(),
                                        std::make_shared<Linear>(64 * 7 * 7, 128, true, gen), std::make_shared<ReLU>()}));
    head_ = register_module("head", std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
                                        std::make_shared<Dropout>(0.25, gen), std::make_shared<Linear>(128, 10, true, gen)}));
  }
  Tensor features(const Tensor& images) { return body_->forward(images); }
  Tensor forward(const Tensor& images) override { return head_->forward(features(images)); }
  std::string type_name() const override { return "MnistClassifier"; }

 private:
  std::shared_ptr<Sequential> body_, head_;
};

}  // namespace sg::examples
