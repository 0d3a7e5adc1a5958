#include "io/mnist.h"

#include <array>
#include <cstring>
#include <filesystem>

#include "core/autograd.h"
#include "io/idx.h"

namespace sg {

namespace {

constexpr int64_t kSide = 28;
constexpr int64_t kClasses = 10;

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

// The raw file when present, else the gzipped one; an error naming both when neither is.
std::string find_mnist_file(const std::string& dir, const std::string& name, const char* what) {
  const std::string raw = join(dir, name), gz = raw + ".gz";
  std::error_code ec;
  if (std::filesystem::is_regular_file(raw, ec)) return raw;
  if (std::filesystem::is_regular_file(gz, ec)) return gz;
  throw Error(str("load_mnist: MNIST ", what, " not found: looked for '", raw, "' and '", gz,
                  "'. Fetch MNIST with: scripts/fetch-mnist.sh ", dir.empty() ? "." : dir));
}

// Pixel byte -> [-1, 1], once per value instead of once per pixel.
std::array<float, 256> pixel_table() {
  std::array<float, 256> table{};
  for (int p = 0; p < 256; ++p) table[static_cast<std::size_t>(p)] = static_cast<float>(p / 255.0 * 2.0 - 1.0);
  return table;
}

// Uniform in [0, bound) from 64-bit draws; rejection removes the modulo bias, so every
// permutation is equally likely and the result depends on nothing but the bit stream.
uint64_t uniform_below(Generator& gen, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
  while (true) {
    uint64_t r = gen.next_u64();
    if (r >= threshold) return r % bound;
  }
}

Tensor host_contiguous(const Tensor& t) {
  NoGradGuard no_grad;
  return t.detach().to(Device::cpu()).contiguous();
}

}  // namespace

MnistSplit load_mnist(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const char* split = train ? "training" : "test";
  const std::string image_path =
      find_mnist_file(dir, prefix + "-images-idx3-ubyte", train ? "training images" : "test images");
  const std::string label_path =
      find_mnist_file(dir, prefix + "-labels-idx1-ubyte", train ? "training labels" : "test labels");

  IdxArray images = read_idx(image_path);
  SG_CHECK(images.dims.size() == 3 && images.dims[1] == kSide && images.dims[2] == kSide, "load_mnist: expected the ",
           split, " images in '", image_path, "' to have dims [N, 28, 28], got ", list_str(images.dims));
  IdxArray labels = read_idx(label_path);
  SG_CHECK(labels.dims.size() == 1, "load_mnist: expected the ", split, " labels in '", label_path,
           "' to have dims [N], got ", list_str(labels.dims));
  const int64_t n = images.dims[0];
  SG_CHECK(labels.dims[0] == n, "load_mnist: '", image_path, "' holds ", n, " images but '", label_path,
           "' holds ", labels.dims[0], " labels; expected the same count");

  MnistSplit out;
  out.images = empty({n, 1, kSide, kSide});
  static const std::array<float, 256> table = pixel_table();
  float* pixels = out.images.data<float>();
  for (std::size_t i = 0; i < images.data.size(); ++i) pixels[i] = table[images.data[i]];

  out.labels = empty({n}, {DType::Int64});
  int64_t* label_values = out.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = labels.data[static_cast<std::size_t>(i)];
    SG_CHECK(label < kClasses, "load_mnist: expected labels in 0..9 in '", label_path, "', got ", label,
             " at index ", i);
    label_values[i] = label;
  }
  return out;
}

// ---- DataLoader ---------------------------------------------------------------------

DataLoader::DataLoader(const Tensor& images, const Tensor& labels, int64_t batch_size, bool shuffle, uint64_t seed,
                       bool drop_last)
    : batch_size_(batch_size), shuffle_(shuffle), drop_last_(drop_last), generator_(seed) {
  SG_CHECK(images.defined() && labels.defined(), "DataLoader: expected images and labels tensors, got an undefined ",
           images.defined() ? "labels" : "images", " Tensor");
  SG_CHECK(images.dim() >= 1 && labels.dim() >= 1, "DataLoader: expected images and labels with a batch dimension, "
           "got shapes ", shape_str(images.shape()), " and ", shape_str(labels.shape()));
  SG_CHECK(images.size(0) == labels.size(0), "DataLoader: expected as many labels as images along dim 0, got images ",
           shape_str(images.shape()), " and labels ", shape_str(labels.shape()));
  SG_CHECK(batch_size >= 1, "DataLoader: expected batch_size >= 1, got ", batch_size);
  image_device_ = images.device();
  label_device_ = labels.device();
  images_ = host_contiguous(images);
  labels_ = host_contiguous(labels);
  count_ = images.size(0);
  order_.resize(static_cast<std::size_t>(count_));
  for (int64_t i = 0; i < count_; ++i) order_[static_cast<std::size_t>(i)] = i;
}

int64_t DataLoader::batches_per_epoch() const {
  return drop_last_ ? count_ / batch_size_ : (count_ + batch_size_ - 1) / batch_size_;
}

void DataLoader::start_epoch() {
  epoch_rng_state_ = generator_.state();
  // Always shuffle the identity, so an epoch's order depends only on the generator state.
  for (int64_t i = 0; i < count_; ++i) order_[static_cast<std::size_t>(i)] = i;
  if (shuffle_) {
    for (int64_t i = count_ - 1; i > 0; --i) {
      auto j = static_cast<int64_t>(uniform_below(generator_, static_cast<uint64_t>(i) + 1));
      std::swap(order_[static_cast<std::size_t>(i)], order_[static_cast<std::size_t>(j)]);
    }
  }
  position_ = 0;
  started_ = true;
  ++epoch_;
}

void DataLoader::resume_epoch(const std::string& epoch_rng_state, int64_t position) {
  SG_CHECK(position >= 0 && position <= batches_per_epoch(), "DataLoader::resume_epoch: expected a position in 0..",
           batches_per_epoch(), " batches, got ", position);
  generator_.set_state(epoch_rng_state);
  start_epoch();
  position_ = position;
}

Tensor DataLoader::gather(const Tensor& source, int64_t first, int64_t count) const {
  Shape shape = source.shape();
  shape[0] = count;
  Tensor out = empty(shape, {source.dtype()});
  const std::size_t row_bytes =
      static_cast<std::size_t>(shape_numel(Shape(shape.begin() + 1, shape.end()))) * dtype_size(source.dtype());
  if (row_bytes == 0 || count == 0) return out;
  char* dst = static_cast<char*>(out.raw_data());
  const char* src = static_cast<const char*>(source.raw_data());
  if (!shuffle_) {  // rows first..first+count are adjacent: one copy
    std::memcpy(dst, src + static_cast<std::size_t>(first) * row_bytes, static_cast<std::size_t>(count) * row_bytes);
    return out;
  }
  for (int64_t i = 0; i < count; ++i) {
    const auto row = static_cast<std::size_t>(order_[static_cast<std::size_t>(first + i)]);
    std::memcpy(dst + static_cast<std::size_t>(i) * row_bytes, src + row * row_bytes, row_bytes);
  }
  return out;
}

bool DataLoader::next(Tensor& images, Tensor& labels) {
  SG_CHECK(started_, "DataLoader::next: expected start_epoch() to be called before the first batch, got no epoch");
  if (position_ >= batches_per_epoch()) return false;
  const int64_t first = position_ * batch_size_;
  const int64_t count = std::min(batch_size_, count_ - first);
  Tensor x = gather(images_, first, count), y = gather(labels_, first, count);
  images = image_device_.is_cpu() ? x : x.to(image_device_);
  labels = label_device_.is_cpu() ? y : y.to(label_device_);
  ++position_;
  return true;
}

}  // namespace sg
