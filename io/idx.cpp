#include "io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/atomic_file.h"

namespace sg {

namespace {

constexpr uint8_t kUnsignedByte = 0x08;

const char* idx_type_name(int type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
  }
  return "unknown";
}

std::string hex_byte(int b) {
  static const char digits[] = "0123456789abcdef";
  return std::string("0x") + digits[(b >> 4) & 15] + digits[b & 15];
}

// Owns a gzFile so every error path closes it.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    SG_CHECK(file_ != nullptr, "read_idx: cannot open '", path, "': ",
             errno ? std::strerror(errno) : "out of memory");
    gzbuffer(file_, 1 << 17);
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes; fewer only at the end of the (decompressed) data.
  std::size_t read(void* dst, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
      int got = gzread(file_, static_cast<char*>(dst) + done, chunk);
      if (got < 0) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        if (code == Z_BUF_ERROR) {  // the gzip stream stops mid-way: report as truncation
          cut_short_ = true;
          break;
        }
        throw Error(str("read_idx: reading '", path_, "' failed: ", message,
                        code == Z_DATA_ERROR ? " (corrupt gzip data)" : ""));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }
  // Says why data ended early, for "truncated" messages.
  const char* cut_note() const { return cut_short_ ? " (the gzip stream ends early)" : ""; }

 private:
  std::string path_;
  gzFile file_ = nullptr;
  bool cut_short_ = false;
};

}  // namespace

IdxArray read_idx(const std::string& path) {
  GzReader in(path);
  unsigned char magic[4] = {0, 0, 0, 0};
  std::size_t got = in.read(magic, 4);
  SG_CHECK(got == 4, "read_idx: '", path, "' is truncated: expected a 4-byte IDX magic number, found ", got,
           " bytes");
  SG_CHECK(magic[0] == 0 && magic[1] == 0, "read_idx: '", path, "' is not an IDX file (bad magic: expected 00 00 08 NN, "
           "got ", hex_byte(magic[0]), " ", hex_byte(magic[1]), " ", hex_byte(magic[2]), " ", hex_byte(magic[3]), ")");
  SG_CHECK(magic[2] == kUnsignedByte, "read_idx: '", path, "' has element type ", hex_byte(magic[2]), " (",
           idx_type_name(magic[2]), "); only unsigned byte (0x08) IDX files are supported");
  const int ndims = magic[3];
  SG_CHECK(ndims >= 1, "read_idx: '", path, "' declares 0 dimensions; expected at least 1");

  std::vector<unsigned char> dim_bytes(4 * static_cast<std::size_t>(ndims));
  got = in.read(dim_bytes.data(), dim_bytes.size());
  SG_CHECK(got == dim_bytes.size(), "read_idx: '", path, "' is truncated: expected ", dim_bytes.size(),
           " bytes of dimensions after the magic (", ndims, " dims), found ", got, in.cut_note());
  IdxArray array;
  uint64_t expected = 1;
  for (int d = 0; d < ndims; ++d) {
    const unsigned char* b = &dim_bytes[4 * static_cast<std::size_t>(d)];
    int64_t size = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    array.dims.push_back(size);
    SG_CHECK(size > 0, "read_idx: '", path, "' has a dimension of size 0 (dims ", list_str(array.dims),
             "); expected positive sizes");
    SG_CHECK(expected <= (uint64_t{1} << 48) / static_cast<uint64_t>(size), "read_idx: '", path,
             "' declares dims ", list_str(array.dims), "..., too large to be real");
    expected *= static_cast<uint64_t>(size);
  }

  // Grow as the data arrives rather than trusting the header with one huge allocation:
  // a corrupt header then fails as "truncated" instead of exhausting memory.
  std::size_t have = 0;
  while (have < expected) {
    std::size_t target = static_cast<std::size_t>(std::min<uint64_t>(expected, std::max<uint64_t>(have * 2, 1 << 16)));
    array.data.resize(target);
    std::size_t n = in.read(array.data.data() + have, target - have);
    have += n;
    if (have < target) break;
  }
  SG_CHECK(have == expected, "read_idx: '", path, "' is truncated: expected ", expected, " bytes of data (dims ",
           list_str(array.dims), "), found ", have, in.cut_note());
  array.data.resize(have);

  std::size_t trailing = 0;
  unsigned char scratch[1 << 16];
  while (std::size_t n = in.read(scratch, sizeof scratch)) trailing += n;
  SG_CHECK(trailing == 0, "read_idx: '", path, "' has ", trailing, " trailing bytes: expected ", expected,
           " bytes of data (dims ", list_str(array.dims), "), found ", expected + trailing);
  return array;
}

void write_idx(const std::string& path, const IdxArray& array) {
  const std::size_t ndims = array.dims.size();
  SG_CHECK(ndims >= 1 && ndims <= 255, "write_idx: expected 1 to 255 dimensions, got ", ndims);
  uint64_t expected = 1;
  for (int64_t d : array.dims) {
    SG_CHECK(d > 0 && d <= int64_t{std::numeric_limits<uint32_t>::max()}, "write_idx: expected dimensions in 1..",
             std::numeric_limits<uint32_t>::max(), ", got dims ", list_str(array.dims));
    expected *= static_cast<uint64_t>(d);
  }
  SG_CHECK(array.data.size() == expected, "write_idx: dims ", list_str(array.dims), " need ", expected,
           " bytes of data, got ", array.data.size());
  std::string header = {0, 0, static_cast<char>(kUnsignedByte), static_cast<char>(ndims)};
  for (int64_t d : array.dims)
    for (int shift = 24; shift >= 0; shift -= 8) header += static_cast<char>((d >> shift) & 0xff);
  write_file_atomically(path, [&](std::ostream& os) {
    os.write(header.data(), static_cast<std::streamsize>(header.size()));
    os.write(reinterpret_cast<const char*>(array.data.data()), static_cast<std::streamsize>(array.data.size()));
  });
}

}  // namespace sg
