#pragma once
// Training and evaluating the MNIST classifier; shared by examples/mnist_classifier and
// the GAN example (which trains one on the fly when its weights are missing).
#include <string>

#include "classifier_model.h"
#include "distributed_run.h"
#include "io/mnist.h"

namespace sg::examples {

struct ClassifierTraining {
  int epochs = 3;
  int64_t batch = 64;
  uint64_t seed = 0;
  double lr = 2e-3;  // with the cosine decay: 0.990+ in 3 epochs for seeds 1-3 (README)
  // Several processes (mpirun): each trains on its slice of every batch of `batch`, with
  // averaged gradients. Null: one process.
  const DistributedRun* run = nullptr;
};

// Trains with Adam (the rate decays from lr to 0 along a cosine) and shows a progress bar;
// prints one line per epoch with its time and the test accuracy.
void train_classifier(MnistClassifier& model, const MnistSplit& train, const MnistSplit& test,
                      const ClassifierTraining& options);
// Fraction of correctly classified images (eval mode, no graph).
double classifier_accuracy(MnistClassifier& model, const MnistSplit& split);
void save_classifier(MnistClassifier& model, const std::string& path);
void load_classifier(MnistClassifier& model, const std::string& path);

}  // namespace sg::examples
