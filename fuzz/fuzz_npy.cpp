// Fuzz target: load_npy on any bytes returns a tensor or throws sg::Error. Whatever
// loads, save_npy writes and load_npy reads back equal: dtype, shape and every byte.
#include <cstdint>
#include <cstring>

#include "fuzz_file.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input("input.npy", data, size);
  sg::Tensor t;
  try {
    t = sg::load_npy(path);
  } catch (const sg::Error&) {
    return 0;
  }
  fuzz::require(t.is_contiguous(), "load_npy returned a non-contiguous tensor");
  const std::string again = fuzz::scratch_path("again.npy");
  sg::save_npy(again, t);
  sg::Tensor back = sg::load_npy(again);  // must not throw: what save_npy writes, load_npy reads
  fuzz::require(back.dtype() == t.dtype() && back.shape() == t.shape(), "dtype or shape changed on a round trip");
  const std::size_t bytes = static_cast<std::size_t>(t.numel()) * sg::dtype_size(t.dtype());
  fuzz::require(bytes == 0 || std::memcmp(back.raw_data(), t.raw_data(), bytes) == 0, "values changed on a round trip");
  return 0;
}
