#pragma once
// MNIST (28x28 grey digits, 60000 training and 10000 test images) and a DataLoader
// that cuts (images, labels) into shuffled mini-batches, reproducibly.
#include <cstdint>
#include <string>
#include <vector>

#include "core/generator.h"
#include "core/tensor.h"

namespace sg {

struct MnistSplit {
  Tensor images;  // float32 (N, 1, 28, 28), pixel p mapped to p / 255 * 2 - 1, in [-1, 1]
  Tensor labels;  // int64 (N), digits 0..9
};

// Loads the training split (train = true: train-images-idx3-ubyte, train-labels-idx1-ubyte)
// or the test split (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) from `dir`; each file
// may be raw or gzipped with a ".gz" suffix (the raw one is used when both exist).
// Requires: images of dims (N, 28, 28), labels of dims (N), the same N, labels in 0..9.
// A missing file gives an sg::Error listing the paths looked for and the command that
// fetches the data (scripts/fetch-mnist.sh).
MnistSplit load_mnist(const std::string& dir, bool train);

// Iterates over (images, labels) in mini-batches along dim 0.
//
//   DataLoader loader(split.images, split.labels, 64, /*shuffle=*/true, /*seed=*/1);
//   for (int epoch = 0; epoch < 10; ++epoch) {
//     loader.start_epoch();
//     Tensor x, y;
//     while (loader.next(x, y)) { ... }
//   }
//
// Shuffling is a Fisher-Yates permutation drawn from a Generator owned by the loader,
// so one seed gives one sequence of epochs on every machine and library.
// Batches are fresh contiguous tensors on the device the inputs were on.
//
// Resuming a run exactly:
//   - between epochs: save rng_state() after an epoch; on resume, set_rng_state()
//     and start_epoch() draws the same next order;
//   - mid-epoch: save epoch_rng_state() and position(); resume_epoch(state, position)
//     redraws the current order and skips the batches already taken.
class DataLoader {
 public:
  // Requires: images and labels defined, at least 1-d, with the same size along dim 0;
  // batch_size >= 1. drop_last: skip a final batch smaller than batch_size.
  // The data is kept as a contiguous CPU copy (or shared, when already so).
  DataLoader(const Tensor& images, const Tensor& labels, int64_t batch_size, bool shuffle, uint64_t seed,
             bool drop_last = false);

  int64_t size() const { return count_; }  // samples
  int64_t batch_size() const { return batch_size_; }
  int64_t batches_per_epoch() const;

  // Begins an epoch: draws a new order (when shuffling) and rewinds to the first batch.
  void start_epoch();
  // Fills the next batch: images (B, ...) and labels (B, ...) in their dtypes, B <= batch_size.
  // Returns false, leaving them untouched, once the epoch is exhausted.
  // Requires start_epoch() to have been called.
  bool next(Tensor& images, Tensor& labels);

  int64_t epoch() const { return epoch_; }        // epochs started by this object
  int64_t position() const { return position_; }  // batches taken in the current epoch

  // The generator's state now; restoring it reproduces all later epochs' orders.
  std::string rng_state() const { return generator_.state(); }
  void set_rng_state(const std::string& state) { generator_.set_state(state); }
  // The state the current epoch's order was drawn from (before start_epoch's shuffle).
  const std::string& epoch_rng_state() const { return epoch_rng_state_; }
  // Redraws the order from `epoch_rng_state` as start_epoch() did, then skips
  // `position` batches (0..batches_per_epoch()); the next call to next() continues there.
  void resume_epoch(const std::string& epoch_rng_state, int64_t position);

 private:
  Tensor gather(const Tensor& source, int64_t first, int64_t count) const;

  Tensor images_, labels_;                // contiguous, on the CPU
  Device image_device_, label_device_;  // where batches are delivered
  int64_t count_ = 0;
  int64_t batch_size_;
  bool shuffle_;
  bool drop_last_;
  Generator generator_;
  std::vector<int64_t> order_;
  std::string epoch_rng_state_;
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  bool started_ = false;
};

}  // namespace sg
