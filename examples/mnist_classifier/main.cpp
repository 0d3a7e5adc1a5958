// Trains a small CNN on the real MNIST with Adam, reports test accuracy, and saves
// the weights (the GAN example scores its digits with this classifier's features).
//
//   build/examples/mnist_classifier --data data/mnist --epochs 3 --out out/classifier
//   mpirun -np 2 build/examples/mnist_classifier ...      (data parallel: --batch is global)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "../common/classifier_train.h"
#include "../common/cli.h"

using namespace sg;
using namespace sg::examples;

int main(int argc, char** argv) {
  CLI::App app{"Train a CNN classifier on MNIST with sigmagrad"};
  std::string data_dir = "data/mnist", out_dir = "out/classifier";
  ClassifierTraining options;
  app.add_option("--data", data_dir, "directory with the MNIST IDX files (scripts/fetch-mnist.sh)");
  app.add_option("--epochs", options.epochs, "training epochs")->check(positive());
  app.add_option("--batch", options.batch, "batch size")->check(positive());
  app.add_option("--seed", options.seed, "random seed (initialisation, shuffling, dropout)");
  app.add_option("--lr", options.lr, "Adam learning rate")->check(positive());
  app.add_option("--out", out_dir, "directory for the trained weights (classifier.ckpt)");
  CLI11_PARSE(app, argc, argv);

  return run_main("mnist_classifier", [&] {
    ensure_writable_dir(out_dir, "--out");
    const DistributedRun run = start_distributed_run(
        "cpu", options.batch, str("epochs=", options.epochs, " batch=", options.batch, " seed=", options.seed,
                                  " lr=", options.lr, " data=", data_dir));
    options.run = &run;
    MnistSplit train = load_mnist(data_dir, true), test = load_mnist(data_dir, false);
    Generator gen(options.seed);
    MnistClassifier model(gen);
    train_classifier(model, train, test, options);
    if (!run.is_root()) return 0;  // rank 0 saves and reports
    std::string path = out_dir + "/classifier.ckpt";
    save_classifier(model, path);
    std::printf("saved %s\n", path.c_str());
    std::printf("test_accuracy=%.4f\n", classifier_accuracy(model, test));
    return 0;
  });
}
