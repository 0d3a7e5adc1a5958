// MNIST loading, the DataLoader (batches, shuffling, resuming) and checkpoints.
#include <doctest/doctest.h>

#include "io_helpers.h"

using namespace sg;
using namespace io_test;

// ---- MNIST ------------------------------------------------------------------------------

TEST_CASE("load_mnist maps pixels to -1..1 and keeps the labels") {
  TempDir dir;
  write_tiny_mnist(dir.path, "train", {0, 255, 51, 204, 128}, {3, 0, 9, 1, 7});
  MnistSplit s = load_mnist(dir.path, true);
  CHECK(s.images.dtype() == DType::Float32);
  CHECK(s.images.shape() == Shape{5, 1, 28, 28});
  CHECK(s.labels.dtype() == DType::Int64);
  CHECK(s.labels.to_vector<int64_t>() == std::vector<int64_t>{3, 0, 9, 1, 7});
  CHECK(s.images.at({0, 0, 0, 0}) == -1.0);
  CHECK(s.images.at({1, 0, 27, 27}) == 1.0);
  CHECK(s.images.at({2, 0, 5, 9}) == doctest::Approx(-0.6));  // 51 / 255 * 2 - 1
  CHECK(s.images.at({3, 0, 14, 0}) == doctest::Approx(0.6));
  CHECK(s.images.at({4, 0, 3, 3}) == doctest::Approx(128.0 / 255 * 2 - 1));
  // Every pixel of image 1 is 1.0, not only the corners.
  CHECK(s.images.select(0, 1).sum().item() == doctest::Approx(784.0));
}

TEST_CASE("load_mnist reads the gzipped test split") {
  TempDir dir;
  write_tiny_mnist(dir.path, "t10k", {10, 20}, {4, 2});
  for (const char* name : {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    write_gzip(dir.file(std::string(name) + ".gz"), read_bytes(dir.file(name)));
    std::filesystem::remove(dir.file(name));
  }
  MnistSplit s = load_mnist(dir.path, false);
  CHECK(s.images.shape() == Shape{2, 1, 28, 28});
  CHECK(s.labels.to_vector<int64_t>() == std::vector<int64_t>{4, 2});
  CHECK(s.images.at({1, 0, 7, 7}) == doctest::Approx(20.0 / 255 * 2 - 1));
}

TEST_CASE("load_mnist names the missing files and scripts/fetch-mnist.sh") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("train-images-idx3-ubyte.gz"), Error);
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("scripts/fetch-mnist.sh"), Error);
  write_tiny_mnist(dir.path, "t10k", {1}, {1});
  std::filesystem::remove(dir.file("t10k-labels-idx1-ubyte"));
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, false), doctest::Contains("test labels not found"), Error);
}

TEST_CASE("load_mnist rejects images that are not 28x28") {
  TempDir dir;
  write_idx(dir.file("train-images-idx3-ubyte"), idx_array({2, 28, 27}));
  write_idx(dir.file("train-labels-idx1-ubyte"), IdxArray{{2}, {1, 2}});
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("dims [N, 28, 28], got [2, 28, 27]"), Error);
}

TEST_CASE("load_mnist rejects different image and label counts") {
  TempDir dir;
  write_tiny_mnist(dir.path, "train", {1, 2, 3}, {1, 2});
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("holds 3 images but"), Error);
}

TEST_CASE("load_mnist rejects labels outside 0..9") {
  TempDir dir;
  write_tiny_mnist(dir.path, "train", {1, 2, 3}, {1, 10, 2});
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("expected labels in 0..9"), Error);
  CHECK_THROWS_WITH_AS(load_mnist(dir.path, true), doctest::Contains("got 10 at index 1"), Error);
}

// ---- DataLoader ---------------------------------------------------------------------------

TEST_CASE("DataLoader batches have batch_size rows and the last batch is partial") {
  DataLoader loader(numbered_rows(10), numbered_labels(10), 4, false, 0);
  CHECK(loader.batches_per_epoch() == 3);
  loader.start_epoch();
  Tensor x, y;
  std::vector<int64_t> sizes;
  while (loader.next(x, y)) {
    CHECK(x.shape() == Shape{y.size(0), 2});
    CHECK(x.is_contiguous());
    sizes.push_back(y.size(0));
  }
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  CHECK(y.to_vector<int64_t>() == std::vector<int64_t>{8, 9});
  CHECK(x.to_vector<float>() == std::vector<float>{8, 8.5f, 9, 9.5f});
  CHECK_FALSE(loader.next(x, y));  // stays at the end until the next start_epoch
}

TEST_CASE("DataLoader drop_last skips the partial batch") {
  DataLoader loader(numbered_rows(10), numbered_labels(10), 4, true, 3, /*drop_last=*/true);
  CHECK(loader.batches_per_epoch() == 2);
  CHECK(epoch_labels(loader).size() == 8);
  DataLoader exact(numbered_rows(8), numbered_labels(8), 4, false, 0, true);
  CHECK(exact.batches_per_epoch() == 2);
}

TEST_CASE("DataLoader without shuffle yields samples in order") {
  DataLoader loader(numbered_rows(7), numbered_labels(7), 3, false, 0);
  CHECK(epoch_labels(loader) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6});
  CHECK(epoch_labels(loader) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6});
}

TEST_CASE("DataLoader shuffle visits every sample exactly once per epoch, images paired with labels") {
  const int64_t n = 103;
  DataLoader loader(numbered_rows(n), numbered_labels(n), 10, true, 7);
  for (int epoch = 0; epoch < 3; ++epoch) {
    loader.start_epoch();
    std::vector<int64_t> seen;
    Tensor x, y;
    while (loader.next(x, y)) {
      auto labels = y.to_vector<int64_t>();
      auto rows = x.to_vector<float>();
      for (std::size_t i = 0; i < labels.size(); ++i) {
        CHECK(rows[2 * i] == static_cast<float>(labels[i]));
        CHECK(rows[2 * i + 1] == static_cast<float>(labels[i]) + 0.5f);
      }
      seen.insert(seen.end(), labels.begin(), labels.end());
    }
    std::vector<int64_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == numbered_labels(n).to_vector<int64_t>());
    CHECK(seen != sorted);  // it did shuffle
  }
}

TEST_CASE("DataLoader with the same seed gives the same order") {
  DataLoader a(numbered_rows(50), numbered_labels(50), 8, true, 42);
  DataLoader b(numbered_rows(50), numbered_labels(50), 8, true, 42);
  for (int epoch = 0; epoch < 3; ++epoch) CHECK(epoch_labels(a) == epoch_labels(b));
}

TEST_CASE("DataLoader with different seeds gives different orders") {
  DataLoader a(numbered_rows(50), numbered_labels(50), 8, true, 1);
  DataLoader b(numbered_rows(50), numbered_labels(50), 8, true, 2);
  CHECK(epoch_labels(a) != epoch_labels(b));
}

TEST_CASE("DataLoader draws a new order every epoch") {
  DataLoader loader(numbered_rows(50), numbered_labels(50), 8, true, 1);
  std::vector<int64_t> first = epoch_labels(loader);
  CHECK(epoch_labels(loader) != first);
  CHECK(loader.epoch() == 2);
}

TEST_CASE("DataLoader order for a seed is fixed on every machine") {
  // mt19937_64 and the Fisher-Yates draw are fully specified, so this order never changes.
  DataLoader loader(numbered_rows(10), numbered_labels(10), 10, true, 42);
  CHECK(epoch_labels(loader) == std::vector<int64_t>{1, 7, 9, 0, 3, 8, 4, 2, 5, 6});
}

TEST_CASE("DataLoader resumed from a saved rng state gives the same next epoch") {
  DataLoader original(numbered_rows(40), numbered_labels(40), 16, true, 5);
  epoch_labels(original);
  const std::string saved = original.rng_state();
  std::vector<int64_t> next_epoch = epoch_labels(original);

  DataLoader resumed(numbered_rows(40), numbered_labels(40), 16, true, 999);  // a different seed
  resumed.set_rng_state(saved);
  CHECK(epoch_labels(resumed) == next_epoch);
}

TEST_CASE("DataLoader resume_epoch continues mid-epoch exactly") {
  DataLoader original(numbered_rows(40), numbered_labels(40), 6, true, 11);
  epoch_labels(original);
  original.start_epoch();
  Tensor x, y;
  original.next(x, y);
  original.next(x, y);
  const std::string state = original.epoch_rng_state();
  const int64_t position = original.position();
  CHECK(position == 2);
  std::vector<int64_t> rest;
  while (original.next(x, y)) rest.push_back(y.to_vector<int64_t>()[0]);

  DataLoader resumed(numbered_rows(40), numbered_labels(40), 6, true, 0);
  resumed.resume_epoch(state, position);
  std::vector<int64_t> resumed_rest;
  while (resumed.next(x, y)) resumed_rest.push_back(y.to_vector<int64_t>()[0]);
  CHECK(resumed_rest == rest);
  CHECK(resumed_rest.size() == 5);
  CHECK(epoch_labels(resumed) == epoch_labels(original));  // and the epochs after it
}

TEST_CASE("DataLoader rejects bad arguments and next before start_epoch") {
  CHECK_THROWS_WITH_AS(DataLoader(numbered_rows(5), numbered_labels(4), 2, false, 0),
                       doctest::Contains("images [5, 2] and labels [4]"), Error);
  CHECK_THROWS_WITH_AS(DataLoader(numbered_rows(5), numbered_labels(5), 0, false, 0),
                       doctest::Contains("batch_size >= 1, got 0"), Error);
  DataLoader loader(numbered_rows(5), numbered_labels(5), 2, false, 0);
  Tensor x, y;
  CHECK_THROWS_WITH_AS(loader.next(x, y), doctest::Contains("start_epoch()"), Error);
  CHECK_THROWS_WITH_AS(loader.resume_epoch(loader.rng_state(), 4), doctest::Contains("position in 0..3"), Error);
}

TEST_CASE("DataLoader batches are copies: writing to a batch leaves the data unchanged") {
  Tensor images = numbered_rows(4);
  DataLoader loader(images, numbered_labels(4), 4, false, 0);
  loader.start_epoch();
  Tensor x, y;
  REQUIRE(loader.next(x, y));
  x.fill_(-1);
  CHECK(images.at({0, 0}) == 0);
}

// ---- checkpoints -------------------------------------------------------------------------

TEST_CASE("checkpoint round trip keeps tensors of every dtype and the metadata") {
  TempDir dir;
  const Checkpoint saved = sample_checkpoint();
  save_checkpoint(dir.file("c.ckpt"), saved);
  CHECK(read_bytes(dir.file("c.ckpt")).substr(0, 8) == "SGCKPT01");
  Checkpoint back = load_checkpoint(dir.file("c.ckpt"));
  REQUIRE(back.tensors.size() == 4);
  for (const auto& [name, t] : saved.tensors) {
    const Tensor& b = back.tensors.at(name);
    CHECK(b.dtype() == t.dtype());
    CHECK(b.shape() == t.shape());
    CHECK(b.device() == Device::cpu());
    CHECK(b.is_contiguous());
    CHECK(b.to_vector<double>() == t.to_vector<double>());
  }
  CHECK(back.tensors.at("step_counts").to_vector<int64_t>() == std::vector<int64_t>{-1, int64_t{1} << 62});
  CHECK(back.meta == saved.meta);
}

TEST_CASE("checkpoint saves views in row-major order and empty tensors") {
  TempDir dir;
  Checkpoint c;
  c.tensors["transposed"] = arange(0, 6).reshape({2, 3}).t();
  c.tensors["sliced"] = arange(0, 10, 1, {DType::Int64}).slice(0, 1, 10, 3);
  c.tensors["empty"] = zeros({0, 5});
  save_checkpoint(dir.file("c.ckpt"), c);
  Checkpoint back = load_checkpoint(dir.file("c.ckpt"));
  CHECK(back.tensors.at("transposed").to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(back.tensors.at("sliced").to_vector<int64_t>() == std::vector<int64_t>{1, 4, 7});
  CHECK(back.tensors.at("empty").shape() == Shape{0, 5});
  CHECK(back.meta.empty());
}

TEST_CASE("an empty checkpoint round trips") {
  TempDir dir;
  save_checkpoint(dir.file("c.ckpt"), Checkpoint{});
  Checkpoint back = load_checkpoint(dir.file("c.ckpt"));
  CHECK(back.tensors.empty());
  CHECK(back.meta.empty());
}

TEST_CASE("a truncated checkpoint is reported as truncated") {
  TempDir dir;
  save_checkpoint(dir.file("c.ckpt"), sample_checkpoint());
  const std::string bytes = read_bytes(dir.file("c.ckpt"));
  write_bytes(dir.file("cut.ckpt"), bytes.substr(0, bytes.size() - 10));
  const std::string expected = str("cut.ckpt' is truncated: expected ", bytes.size(), " bytes, found ", bytes.size() - 10);
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("cut.ckpt")), doctest::Contains(expected.c_str()), Error);
  write_bytes(dir.file("tiny.ckpt"), bytes.substr(0, 20));
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("tiny.ckpt")), doctest::Contains("is truncated: expected at least 40"),
                       Error);
}

TEST_CASE("a corrupted byte in a checkpoint is a checksum mismatch") {
  TempDir dir;
  save_checkpoint(dir.file("c.ckpt"), sample_checkpoint());
  const std::string bytes = read_bytes(dir.file("c.ckpt"));
  // Anywhere after the header: inside data, inside a name, inside a length field.
  for (std::size_t at : {bytes.size() / 2, std::size_t{40}, std::size_t{32}, bytes.size() - 20, bytes.size() - 1}) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
    write_bytes(dir.file("bad.ckpt"), damaged);
    CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("bad.ckpt")), doctest::Contains("checksum mismatch"), Error);
  }
}

TEST_CASE("a file that is not a checkpoint is reported as bad magic") {
  TempDir dir;
  save_npy(dir.file("a.npy"), zeros({3}));
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("a.npy")),
                       doctest::Contains("not a sigmagrad checkpoint (bad magic"), Error);
}

TEST_CASE("a checkpoint with bytes appended is an error") {
  TempDir dir;
  save_checkpoint(dir.file("c.ckpt"), sample_checkpoint());
  write_bytes(dir.file("long.ckpt"), read_bytes(dir.file("c.ckpt")) + "!!");
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("long.ckpt")), doctest::Contains("2 unexpected trailing bytes"), Error);
}

TEST_CASE("a failed checkpoint save leaves the existing checkpoint unchanged") {
  TempDir dir;
  const std::string path = dir.file("c.ckpt");
  save_checkpoint(path, sample_checkpoint());
  const std::string before = read_bytes(path);

  Checkpoint broken = sample_checkpoint();
  broken.tensors["zzz_last"] = Tensor();  // throws inside the write, once PATH.tmp exists
  CHECK_THROWS_WITH_AS(save_checkpoint(path, broken), doctest::Contains("tensor 'zzz_last' is undefined"), Error);
  CHECK(read_bytes(path) == before);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

  CHECK_THROWS_AS(save_checkpoint(dir.file("missing/dir/c.ckpt"), sample_checkpoint()), Error);
  CHECK(load_checkpoint(path).meta.at("step") == "1200");
}
