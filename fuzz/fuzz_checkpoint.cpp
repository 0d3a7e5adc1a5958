// Fuzz target: load_checkpoint on any bytes returns a checkpoint or throws sg::Error.
// Whatever loads, save_checkpoint writes and load_checkpoint reads back equal.
#include <cstdint>
#include <cstring>

#include "fuzz_file.h"
#include "io/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input("input.ckpt", data, size);
  sg::Checkpoint c;
  try {
    c = sg::load_checkpoint(path);
  } catch (const sg::Error&) {
    return 0;
  }
  const std::string again = fuzz::scratch_path("again.ckpt");
  sg::save_checkpoint(again, c);
  sg::Checkpoint back = sg::load_checkpoint(again);
  fuzz::require(back.meta == c.meta && back.tensors.size() == c.tensors.size(), "entries changed on a round trip");
  for (const auto& [name, t] : c.tensors) {
    const sg::Tensor& b = back.tensors.at(name);
    fuzz::require(b.dtype() == t.dtype() && b.shape() == t.shape(), "a tensor's dtype or shape changed");
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * sg::dtype_size(t.dtype());
    fuzz::require(bytes == 0 || std::memcmp(b.raw_data(), t.raw_data(), bytes) == 0, "a tensor's values changed");
  }
  return 0;
}
