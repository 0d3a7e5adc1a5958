#include "io/checkpoint.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/autograd.h"
#include "io/atomic_file.h"

namespace sg {

static_assert(std::endian::native == std::endian::little, "sigmagrad's file formats assume a little-endian host");

namespace {

constexpr char kMagic[8] = {'S', 'G', 'C', 'K', 'P', 'T', '0', '1'};
constexpr uint64_t kHeaderBytes = 8 + 3 * 8;  // magic, file_size, n_tensors, n_meta
constexpr uint64_t kChecksumBytes = 8;
constexpr uint64_t kMaxDims = 64;

// 64-bit FNV-1a: simple, no table, and every single-byte change alters the result.
constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;
uint64_t fnv1a(uint64_t hash, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) hash = (hash ^ p[i]) * kFnvPrime;
  return hash;
}

// Stable codes in the file, independent of the DType enum's values.
uint8_t dtype_code(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 0;
    case DType::Float64: return 1;
    case DType::Int64: return 2;
  }
  return 255;
}

// Writes and hashes in one go, so the checksum covers exactly what was written.
class HashingWriter {
 public:
  explicit HashingWriter(std::ostream& os) : os_(os) {}
  void bytes(const void* p, std::size_t n) {
    if (n == 0) return;
    os_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    hash_ = fnv1a(hash_, p, n);
  }
  void u64(uint64_t v) { bytes(&v, 8); }
  void u8(uint8_t v) { bytes(&v, 1); }
  void text(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  uint64_t hash() const { return hash_; }

 private:
  std::ostream& os_;
  uint64_t hash_ = kFnvOffset;
};

uint64_t tensor_record_bytes(const std::string& name, const Tensor& t) {
  SG_CHECK(t.defined(), "save_checkpoint: tensor '", name, "' is undefined (expected a tensor, got an empty handle)");
  return 8 + name.size() + 1 + 8 + 8 * t.shape().size() +
         static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
}

// Text for an error message: printable ASCII as is, other bytes as \xNN.
std::string printable(const char* p, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

// A structural problem found while parsing; it is reported only if the checksum is
// intact, since a corrupted byte explains any structure it breaks.
struct Malformed {
  std::string message;
};

// Reads and hashes the body (everything between the header and the checksum).
class HashingReader {
 public:
  HashingReader(std::istream& in, uint64_t body_bytes, uint64_t hash) : in_(in), remaining_(body_bytes), hash_(hash) {}
  void bytes(void* dst, uint64_t n, const std::string& what) {
    if (n > remaining_)
      throw Malformed{str(what, " needs ", n, " bytes but only ", remaining_, " remain before the checksum")};
    if (n == 0) return;
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    SG_CHECK(in_.good(), "load_checkpoint: reading failed: ", std::strerror(errno));
    hash_ = fnv1a(hash_, dst, n);
    remaining_ -= n;
  }
  uint64_t u64(const std::string& what) {
    uint64_t v = 0;
    bytes(&v, 8, what);
    return v;
  }
  std::string text(const std::string& what) {
    uint64_t n = u64(what + "'s length");
    if (n > remaining_) throw Malformed{str(what, " claims ", n, " bytes but only ", remaining_, " remain")};
    std::string s(n, '\0');
    bytes(s.data(), n, what);
    return s;
  }
  // Hashes what is left of the body without keeping it.
  void skip_rest() {
    std::vector<char> buffer(1 << 16);
    while (remaining_ > 0) {
      std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(remaining_, buffer.size()));
      in_.read(buffer.data(), static_cast<std::streamsize>(n));
      SG_CHECK(in_.good(), "load_checkpoint: reading failed: ", std::strerror(errno));
      hash_ = fnv1a(hash_, buffer.data(), n);
      remaining_ -= n;
    }
  }
  uint64_t remaining() const { return remaining_; }
  uint64_t hash() const { return hash_; }

 private:
  std::istream& in_;
  uint64_t remaining_;
  uint64_t hash_;
};

Tensor read_tensor(HashingReader& r, const std::string& name) {
  const std::string what = str("tensor '", name, "'");
  uint8_t code = 0;
  r.bytes(&code, 1, what + "'s dtype");
  if (code > 2) throw Malformed{str(what, " has dtype code ", int{code}, ", expected 0, 1 or 2")};
  const DType dtype = code == 0 ? DType::Float32 : code == 1 ? DType::Float64 : DType::Int64;
  const uint64_t ndim = r.u64(what + "'s dimension count");
  if (ndim > kMaxDims) throw Malformed{str(what, " has ", ndim, " dimensions, expected at most ", kMaxDims)};
  Shape shape(ndim);
  for (auto& size : shape) {
    size = static_cast<int64_t>(r.u64(what + "'s shape"));
    if (size < 0) throw Malformed{str(what, " has a negative size ", size)};
  }
  // The same rule as every tensor (core/tensor.h checked_numel), zero-size dims included.
  uint64_t nbytes = 0;
  try {
    nbytes = static_cast<uint64_t>(checked_numel(shape, "load_checkpoint", dtype_size(dtype))) * dtype_size(dtype);
  } catch (const Error&) {
    throw Malformed{str(what, " has shape ", shape_str(shape), ", too large for a tensor (its element count or a "
                        "stride does not fit in 64 bits)")};
  }
  if (nbytes > r.remaining())
    throw Malformed{str(what, " of shape ", shape_str(shape), " needs ", nbytes, " bytes of data but only ",
                        r.remaining(), " remain")};
  Tensor t = empty(shape, {dtype});
  r.bytes(t.raw_data(), nbytes, what + "'s data");
  return t;
}

// True when the file, read with `actual_size` in place of its size field, is intact:
// then only the size field was damaged, and the file is not truncated or padded.
bool only_size_field_differs(std::istream& in, const char* header, uint64_t actual_size) {
  char fixed[kHeaderBytes];
  std::memcpy(fixed, header, kHeaderBytes);
  std::memcpy(fixed + 8, &actual_size, 8);
  in.clear();
  in.seekg(static_cast<std::streamoff>(kHeaderBytes));
  HashingReader body(in, actual_size - kHeaderBytes - kChecksumBytes, fnv1a(kFnvOffset, fixed, kHeaderBytes));
  body.skip_rest();
  uint64_t stored = 0;
  in.read(reinterpret_cast<char*>(&stored), 8);
  const bool intact = in.good() && stored == body.hash();
  in.clear();
  in.seekg(static_cast<std::streamoff>(kHeaderBytes));
  return intact;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  write_file_atomically(path, [&](std::ostream& os) {
    // Sizes first (they need only shapes), so the header can promise the file's length.
    uint64_t file_size = kHeaderBytes + kChecksumBytes;
    for (const auto& [name, t] : checkpoint.tensors) file_size += tensor_record_bytes(name, t);
    for (const auto& [key, value] : checkpoint.meta) file_size += 16 + key.size() + value.size();

    HashingWriter w(os);
    w.bytes(kMagic, sizeof kMagic);
    w.u64(file_size);
    w.u64(checkpoint.tensors.size());
    w.u64(checkpoint.meta.size());
    for (const auto& [name, t] : checkpoint.tensors) {
      // One tensor at a time on the host, so a GPU model never needs a full host copy.
      Tensor c;
      {
        NoGradGuard no_grad;
        c = t.detach().to(Device::cpu()).contiguous();
      }
      w.text(name);
      w.u8(dtype_code(c.dtype()));
      w.u64(c.shape().size());
      for (int64_t size : c.shape()) w.u64(static_cast<uint64_t>(size));
      w.bytes(c.raw_data(), static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype()));
    }
    for (const auto& [key, value] : checkpoint.meta) {
      w.text(key);
      w.text(value);
    }
    const uint64_t checksum = w.hash();
    os.write(reinterpret_cast<const char*>(&checksum), 8);
  });
}

Checkpoint load_checkpoint(const std::string& path) {
  std::error_code ec;
  SG_CHECK(!std::filesystem::is_directory(path, ec), "load_checkpoint: expected a checkpoint file, got the directory '",
           path, "'");
  std::ifstream in(path, std::ios::binary);
  SG_CHECK(in, "load_checkpoint: cannot open '", path, "': ", std::strerror(errno));
  in.seekg(0, std::ios::end);
  const uint64_t actual_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);

  char header[kHeaderBytes] = {};
  in.read(header, static_cast<std::streamsize>(std::min(actual_size, kHeaderBytes)));
  const std::size_t magic_seen = static_cast<std::size_t>(std::min<uint64_t>(actual_size, sizeof kMagic));
  SG_CHECK(std::memcmp(header, kMagic, magic_seen) == 0, "load_checkpoint: '", path,
           "' is not a sigmagrad checkpoint (bad magic: expected it to start with \"SGCKPT01\", got \"",
           printable(header, magic_seen), "\")");
  SG_CHECK(actual_size >= kHeaderBytes + kChecksumBytes, "checkpoint '", path, "' is truncated: expected at least ",
           kHeaderBytes + kChecksumBytes, " bytes (header and checksum), found ", actual_size);
  uint64_t file_size = 0, n_tensors = 0, n_meta = 0;
  std::memcpy(&file_size, header + 8, 8);
  std::memcpy(&n_tensors, header + 16, 8);
  std::memcpy(&n_meta, header + 24, 8);
  if (actual_size != file_size) {
    SG_CHECK(!only_size_field_differs(in, header, actual_size), "checkpoint '", path, "' is corrupted: its size "
             "field says ", file_size, " bytes, but the file has ", actual_size, " and its checksum matches that size");
    SG_CHECK(actual_size >= file_size, "checkpoint '", path, "' is truncated: expected ", file_size, " bytes, found ",
             actual_size);
    detail::throw_error("checkpoint '", path, "' has ", actual_size - file_size, " unexpected trailing bytes: expected ",
                        file_size, " bytes, found ", actual_size);
  }

  HashingReader r(in, file_size - kHeaderBytes - kChecksumBytes, fnv1a(kFnvOffset, header, kHeaderBytes));
  Checkpoint out;
  std::string problem;
  try {
    for (uint64_t i = 0; i < n_tensors; ++i) {
      std::string name = r.text(str("the name of tensor #", i));
      Tensor t = read_tensor(r, name);
      if (!out.tensors.emplace(name, t).second) throw Malformed{str("tensor '", name, "' appears twice")};
    }
    for (uint64_t i = 0; i < n_meta; ++i) {
      std::string key = r.text(str("metadata key #", i));
      std::string value = r.text(str("metadata value '", key, "'"));
      if (!out.meta.emplace(key, std::move(value)).second) throw Malformed{str("metadata key '", key, "' appears twice")};
    }
    if (r.remaining() != 0) throw Malformed{str(r.remaining(), " unused bytes before the checksum")};
  } catch (const Malformed& m) {
    problem = m.message;
    r.skip_rest();
  }
  uint64_t stored = 0;
  in.read(reinterpret_cast<char*>(&stored), 8);
  SG_CHECK(in.good(), "load_checkpoint: reading the checksum of '", path, "' failed: ", std::strerror(errno));
  SG_CHECK(stored == r.hash(), "checkpoint '", path, "' is corrupted: checksum mismatch (stored ", stored,
           ", computed ", r.hash(), ")");
  SG_CHECK(problem.empty(), "checkpoint '", path, "' is malformed (checksum intact, so it was written that way): ",
           problem);
  return out;
}

}  // namespace sg
