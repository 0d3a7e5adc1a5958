#include "gan_data.h"

#include <vector>

#include "cli.h"
#include "core/error.h"
#include "core/generator.h"

namespace sg::examples {

MnistSplit load_gan_data(const std::string& source, bool train) {
  if (source.rfind("synthetic:", 0) != 0) return load_mnist(source, train);
  int64_t n = parse_integer(source.substr(10), "--data synthetic:N");
  SG_CHECK(n > 0, "--data synthetic:N needs N > 0, got ", source);
  Generator disc_rng(train ? 1 : 2);
  std::vector<double> pixels(static_cast<std::size_t>(n * 784), -1.0);
  std::vector<int64_t> labels(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    double cy = disc_rng.uniform(8, 20), cx = disc_rng.uniform(8, 20), r = disc_rng.uniform(3, 7);
    labels[static_cast<std::size_t>(k)] = static_cast<int64_t>(disc_rng.uniform() * 10) % 10;
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x)
        if ((y - cy) * (y - cy) + (x - cx) * (x - cx) < r * r) pixels[static_cast<std::size_t>(k * 784 + y * 28 + x)] = 1.0;
  }
  return {from_vector(pixels, {n, 1, 28, 28}), from_vector(labels, {n}, {DType::Int64})};
}

DataLoader gan_training_loader(const GanOptions& o) {
  MnistSplit train = load_gan_data(o.data, true);
  SG_CHECK(o.batch <= train.images.shape()[0], "--batch ", o.batch, " is larger than the training set (",
           train.images.shape()[0], " images from ", o.data, "): not one full batch to train on");
  return DataLoader(train.images, train.labels, o.batch, true, o.seed + 1, /*drop_last=*/true);
}

}  // namespace sg::examples
