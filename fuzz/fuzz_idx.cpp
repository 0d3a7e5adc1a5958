// Fuzz target: read_idx on any bytes (raw or gzip) either returns an array whose data
// has exactly prod(dims) bytes or throws sg::Error; it never crashes, hangs or
// over-allocates. A returned array written with write_idx reads back equal.
#include <cstdint>

#include "fuzz_file.h"
#include "core/error.h"
#include "io/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input("input.idx", data, size);
  sg::IdxArray array;
  try {
    array = sg::read_idx(path);
  } catch (const sg::Error&) {
    return 0;  // refused with a message: what bad input should get
  }
  uint64_t count = 1;
  for (int64_t d : array.dims) {
    fuzz::require(d > 0, "a dimension read back as zero or negative");
    count *= static_cast<uint64_t>(d);
  }
  fuzz::require(count == array.data.size(), "data size differs from prod(dims)");
  const std::string again = fuzz::scratch_path("again.idx");
  sg::write_idx(again, array);
  sg::IdxArray reread = sg::read_idx(again);
  fuzz::require(reread.dims == array.dims && reread.data == array.data, "write_idx then read_idx changed the array");
  return 0;
}
