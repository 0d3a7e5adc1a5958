#pragma once
// What the fuzz targets share: the readers take paths, so each input is written to a
// file of this process's own first, and a failed check aborts so libFuzzer reports it.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace fuzz {

// A path unique to this process (libFuzzer's -jobs run several at once), in memory
// (/dev/shm) when there is one: the writers fsync, which on a disk costs milliseconds.
inline std::string scratch_path(const char* name) {
  static const std::string dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return dir + "/sigmagrad_fuzz_" + std::to_string(::getpid()) + "_" + name;
}

inline std::string write_input(const char* name, const uint8_t* data, std::size_t size) {
  std::string path = scratch_path(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// A broken promise (a file that loaded once but not again, or changed) is a finding.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
  }
}

}  // namespace fuzz
