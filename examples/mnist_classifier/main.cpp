// Trains a small CNN on the real MNIST with Adam, reports test accuracy, and saves
// the weights (the GAN example scores its digits with this classifier's features).
//
//   build/examples/mnist_classifier --data data/mnist --epochs 3 --out out/classifier
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "../common/classifier_model.h"
#include "../common/progress.h"
#include "io/checkpoint.h"
#include "io/mnist.h"
#include "ops/ops.h"
#include "optim/adam.h"

using namespace sg;
using namespace sg::examples;

namespace {

double accuracy(MnistClassifier& model, const MnistSplit& split) {
  NoGradGuard no_grad;
  model.eval();
  DataLoader loader(split.images, split.labels, 1000, false, 0);
  loader.start_epoch();
  Tensor x, y;
  int64_t correct = 0;
  while (loader.next(x, y)) {
    Tensor predicted = max(model(x), 1).indices;
    std::vector<int64_t> p = predicted.to_vector<int64_t>(), t = y.to_vector<int64_t>();
    for (std::size_t i = 0; i < p.size(); ++i) correct += p[i] == t[i];
  }
  model.train();
  return static_cast<double>(correct) / static_cast<double>(split.labels.numel());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a CNN classifier on MNIST with sigmagrad"};
  std::string data_dir = "data/mnist", out_dir = "out/classifier";
  int epochs = 3, batch = 64;
  uint64_t seed = 0;
  double lr = 1e-3;
  app.add_option("--data", data_dir, "directory with the MNIST IDX files (scripts/fetch-mnist.sh)");
  app.add_option("--epochs", epochs, "training epochs")->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "batch size")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "random seed (initialisation, shuffling, dropout)");
  app.add_option("--lr", lr, "Adam learning rate")->check(CLI::PositiveNumber);
  app.add_option("--out", out_dir, "directory for the trained weights (classifier.ckpt)");
  CLI11_PARSE(app, argc, argv);

  try {
    MnistSplit train = load_mnist(data_dir, true), test = load_mnist(data_dir, false);
    Generator gen(seed);
    MnistClassifier model(gen);
    Adam optimizer(model.parameters(), {.lr = lr});
    DataLoader loader(train.images, train.labels, batch, true, seed + 1);
    std::filesystem::create_directories(out_dir);

    for (int epoch = 1; epoch <= epochs; ++epoch) {
      // Step decay: the last epoch fine-tunes at a third of the rate.
      optimizer.set_lr(epoch == epochs && epochs > 1 ? lr / 3 : lr);
      loader.start_epoch();
      ProgressBar bar(str("epoch ", epoch, "/", epochs), loader.batches_per_epoch());
      Tensor x, y;
      double running_loss = 0;
      int64_t step = 0;
      while (loader.next(x, y)) {
        optimizer.zero_grad();
        Tensor loss = cross_entropy(model(x), y);
        loss.backward();
        optimizer.step();
        double l = loss.item();
        running_loss = step == 0 ? l : 0.98 * running_loss + 0.02 * l;
        ++step;
        char metrics[48];
        std::snprintf(metrics, sizeof metrics, "loss %.4f", running_loss);
        bar.update(step, metrics);
      }
      std::printf("epoch %d: %.1f s, test accuracy %.4f\n", epoch, bar.seconds(), accuracy(model, test));
    }

    Checkpoint checkpoint;
    checkpoint.tensors = model.state_dict();
    checkpoint.meta["model"] = "MnistClassifier";
    std::string path = out_dir + "/classifier.ckpt";
    save_checkpoint(path, checkpoint);
    std::printf("saved %s\n", path.c_str());
    std::printf("test_accuracy=%.4f\n", accuracy(model, test));
    return 0;
  } catch (const Error& e) {
    std::cerr << "mnist_classifier: " << e.what() << "\n";
    return 1;
  }
}
