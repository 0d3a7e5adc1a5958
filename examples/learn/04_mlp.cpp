// Lesson 4 (docs/learn/04-an-mlp.md): an MLP learns, by gradient descent you write.
//
// Part 1: the exercise, the update step sgd_step, checked by hand on one parameter.
// Part 2: a 2-16-1 MLP learns which points of the square [-1, 1]^2 lie inside the circle
// x^2 + y^2 < 0.5. Part 3, when MNIST is on disk (scripts/fetch-mnist.sh): the same
// loop, a 784-64-10 MLP, on the first --mnist-images training digits. Everything but
// sgd_step is the library's.
//
//   build/examples/learn/04_mlp [--steps 1000] [--mnist data/mnist] [--mnist-images 2000]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "examples/common/cli.h"
#include "examples/learn/learn.h"
#include "io/mnist.h"
#include "layers/layers.h"
#include "ops/ops.h"

using namespace sg;

namespace {

// One step of plain gradient descent, p <- p - lr * dL/dp, for every parameter; then
// every .grad is cleared, because backward() adds into .grad (lesson 2).
void sgd_step(const std::vector<Tensor>& params, double lr) {
  // BEGIN EXERCISE sgd_step
  NoGradGuard no_grad;  // the update is not part of any graph (and in-place on a leaf needs it)
  for (Tensor p : params) {
    p.add_(p.grad(), -lr);
    p.zero_grad();
  }
  // END EXERCISE
}

// Fraction of rows whose largest logit is at the label (one logit: positive means 1).
double accuracy(const Tensor& logits, const std::vector<int64_t>& labels) {
  const std::vector<double> values = logits.to(DType::Float64).to_vector<double>();
  const std::size_t classes = values.size() / labels.size();
  int64_t right = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    int64_t predicted = 0;
    if (classes == 1) {
      predicted = values[i] > 0 ? 1 : 0;
    } else {
      for (std::size_t c = 1; c < classes; ++c)
        if (values[i * classes + c] > values[i * classes + predicted]) predicted = static_cast<int64_t>(c);
    }
    right += predicted == labels[i];
  }
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

// MNIST images as the loader gives them, in [-1, 1], mapped to [0, 1].
Tensor pixels(const Tensor& images) {
  NoGradGuard no_grad;
  return (images + 1.0) * 0.5;
}

// 512 points drawn uniformly from [-1, 1]^2, labelled 1 inside the circle x^2 + y^2 < 0.5.
void circle_data(Generator& gen, Tensor& points, Tensor& targets, std::vector<int64_t>& labels) {
  const int n = 512;
  std::vector<float> xy(2 * n), target(n);
  labels.resize(n);
  for (int i = 0; i < n; ++i) {
    xy[2 * i] = static_cast<float>(gen.uniform(-1, 1));
    xy[2 * i + 1] = static_cast<float>(gen.uniform(-1, 1));
    labels[i] = xy[2 * i] * xy[2 * i] + xy[2 * i + 1] * xy[2 * i + 1] < 0.5f ? 1 : 0;
    target[i] = static_cast<float>(labels[i]);
  }
  points = from_vector(xy, {n, 2});
  targets = from_vector(target, {n, 1});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Lesson 4: an MLP on a toy problem, then on MNIST, with the gradient-descent step you write"};
  long steps = 1000;
  double lr = 1.0;
  std::string mnist_dir = "data/mnist";
  long mnist_images = 2000;
  double mnist_lr = 0.1;
  int mnist_epochs = 10;
  bool raw_pixels = false;
  app.add_option("--steps", steps, "full-batch gradient-descent steps on the circle problem")
      ->check(examples::positive());
  app.add_option("--lr", lr, "learning rate on the circle problem")->check(examples::positive());
  app.add_option("--mnist", mnist_dir, "directory with the MNIST IDX files (scripts/fetch-mnist.sh)");
  app.add_option("--mnist-images", mnist_images, "training digits for part 3 (0 skips it)")
      ->check(examples::non_negative());
  app.add_option("--mnist-lr", mnist_lr, "learning rate on MNIST")->check(examples::positive());
  app.add_option("--mnist-epochs", mnist_epochs, "epochs on MNIST")->check(examples::positive());
  app.add_flag("--raw-pixels", raw_pixels, "feed the loader's pixels in [-1, 1] as they are (see the lesson page)");
  CLI11_PARSE(app, argc, argv);

  return examples::run_main("04_mlp", [&] {
    learn::SelfCheck check(4);

    check.part("1. Your sgd_step (the exercise) on one parameter, by hand.", [&] {
      // p = [1, 2] with dL/dp = [0.5, -1] and lr 0.1: p - lr * grad = [0.95, 2.1].
      Tensor p = tensor({1.0, 2.0}, {DType::Float64, Device::cpu(), true});
      p.set_grad(tensor({0.5, -1.0}, {DType::Float64}));
      sgd_step({p}, 0.1);
      const std::vector<double> now = p.to_vector<double>();
      check.expect(std::abs(now[0] - 0.95) < 1e-15 && std::abs(now[1] - 2.1) < 1e-15,
                   "p = [1, 2], grad [0.5, -1], lr 0.1 gives p = [0.95, 2.1]; yours: [" + std::to_string(now[0]) +
                       ", " + std::to_string(now[1]) + "]",
                   "p <- p - lr * grad, in place (p.add_(p.grad(), -lr)) under a NoGradGuard");
      const bool cleared = !p.grad().defined() || sum(abs(p.grad())).item() == 0;
      check.expect(cleared, "the gradient is cleared after the step",
                   "backward() adds into .grad: without p.zero_grad() the next step uses the sum of all gradients");
    });

    check.part("2. A 2-16-1 MLP learns the circle x^2 + y^2 < 0.5 (full batch of 512 points).", [&] {
      Generator gen(4);
      Tensor points, targets;
      std::vector<int64_t> labels;
      circle_data(gen, points, targets, labels);
      Sequential model{std::make_shared<Linear>(2, 16, true, gen), std::make_shared<Tanh>(),
                       std::make_shared<Linear>(16, 1, true, gen)};
      double first_loss = 0, loss_value = 0;
      for (long step = 0; step < steps; ++step) {
        Tensor loss = binary_cross_entropy_with_logits(model.forward(points), targets);
        loss.backward();
        sgd_step(model.parameters(), lr);
        loss_value = loss.item();
        if (step == 0) first_loss = loss_value;
        if (step % (steps / 6 > 0 ? steps / 6 : 1) == 0 || step + 1 == steps)
          std::printf("   step %4ld  loss %.4f\n", step, loss_value);
      }
      double train_accuracy = 0;
      {
        NoGradGuard no_grad;
        train_accuracy = accuracy(model.forward(points), labels);
      }
      std::printf("   accuracy on the 512 points: %.3f\n", train_accuracy);
      check.expect(loss_value < 0.5 * first_loss,
                   "the loss fell to less than half its start (" + std::to_string(first_loss) + " -> " +
                       std::to_string(loss_value) + ")",
                   "is sgd_step subtracting lr * grad (not adding it), and clearing .grad?");
      check.expect(train_accuracy >= 0.95, "at least 95% of the points classified right",
                   "try more --steps; if the loss does not fall at all, look at sgd_step");
    });

    const bool have_mnist = std::filesystem::exists(mnist_dir + "/train-images-idx3-ubyte") ||
                            std::filesystem::exists(mnist_dir + "/train-images-idx3-ubyte.gz");
    if (mnist_images == 0 || !have_mnist) {
      std::printf("\n3. MNIST: skipped (%s). Get it with scripts/fetch-mnist.sh.\n",
                  mnist_images == 0 ? "--mnist-images 0" : ("no MNIST in " + mnist_dir).c_str());
      return check.finish();
    }
    check.part("3. The same loop on MNIST: a 784-64-10 MLP on the first " + std::to_string(mnist_images) +
                   " training digits, " + std::to_string(mnist_epochs) + " epochs, batches of 64" +
                   (raw_pixels ? ", pixels in [-1, 1] as loaded." : ", pixels mapped to [0, 1]."),
               [&] {
                 MnistSplit train = load_mnist(mnist_dir, true), test = load_mnist(mnist_dir, false);
                 const int64_t n = std::min<int64_t>(mnist_images, train.images.shape()[0]);
                 // The loader gives pixels in [-1, 1]: every background pixel is -1, a large
                 // offset common to all inputs, and plain gradient descent oscillates on it.
                 auto prepare = [&](const Tensor& x) { return raw_pixels ? x : pixels(x); };
                 Tensor images = prepare(train.images.narrow(0, 0, n).reshape({n, 784}));
                 Tensor digits = train.labels.narrow(0, 0, n);
                 Generator gen(4);
                 Sequential model{std::make_shared<Linear>(784, 64, true, gen), std::make_shared<ReLU>(),
                                  std::make_shared<Linear>(64, 10, true, gen)};
                 DataLoader loader(images, digits, 64, /*shuffle=*/true, /*seed=*/4);
                 for (int epoch = 1; epoch <= mnist_epochs; ++epoch) {
                   loader.start_epoch();
                   Tensor x, y;
                   double loss_sum = 0;
                   int batches = 0;
                   while (loader.next(x, y)) {
                     Tensor loss = cross_entropy(model.forward(x), y);
                     loss.backward();
                     sgd_step(model.parameters(), mnist_lr);
                     loss_sum += loss.item();
                     ++batches;
                   }
                   std::printf("   epoch %d  mean loss %.4f\n", epoch, loss_sum / batches);
                 }
                 double train_accuracy = 0, train_loss = 0;
                 {
                   NoGradGuard no_grad;
                   Tensor logits = model.forward(images);
                   train_accuracy = accuracy(logits, digits.to_vector<int64_t>());
                   train_loss = cross_entropy(logits, digits).item();
                 }
                 std::printf("   after training, on its %lld training digits: loss %.4f, accuracy %.3f\n",
                             static_cast<long long>(n), train_loss, train_accuracy);
                 const int64_t m = std::min<int64_t>(1000, test.images.shape()[0]);
                 std::vector<int64_t> test_labels = test.labels.narrow(0, 0, m).to_vector<int64_t>();
                 double test_accuracy = 0;
                 {
                   NoGradGuard no_grad;
                   test_accuracy = accuracy(model.forward(prepare(test.images.narrow(0, 0, m).reshape({m, 784}))), test_labels);
                 }
                 std::printf("   accuracy on the first %lld test digits: %.3f (the CNN of examples/mnist_classifier, "
                             "trained on all 60,000 for 3 epochs, reaches 0.99)\n",
                             static_cast<long long>(m), test_accuracy);
                 check.expect(test_accuracy >= 0.8, "at least 80% of the test digits classified right",
                              "with fewer than 1000 training digits, expect less; otherwise look at sgd_step");
               });
    return check.finish();
  });
}
