#include "io/npy.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "io/atomic_file.h"

namespace sg {

// Tensor bytes are written and read as they sit in memory; .npy data here is '<'.
static_assert(std::endian::native == std::endian::little, "sigmagrad's file formats assume a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
constexpr std::size_t kAlign = 64;           // numpy's ARRAY_ALIGN
constexpr std::size_t kGrowthAxisDigits = 21;  // numpy's GROWTH_AXIS_MAX_DIGITS

// Python's repr of a shape tuple: (), (5,), (2, 3).
std::string shape_repr(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// Preamble + header exactly as numpy's _write_array_header builds them.
std::string npy_header(const std::string& descr, const Shape& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  // numpy >= 1.23 leaves room for the first axis to grow to 21 digits in place.
  if (!shape.empty()) dict.append(kGrowthAxisDigits - std::to_string(shape[0]).size(), ' ');
  // Version 1.0 has a 2-byte length; numpy falls back to 2.0 (4 bytes) when it overflows.
  auto layout = [&](std::size_t length_bytes) {
    std::size_t preamble = kMagicLen + 2 + length_bytes;
    std::size_t unpadded = dict.size() + 1;  // + '\n'
    // As numpy: a header that already ends on the boundary still gets a full 64 spaces.
    std::size_t pad = kAlign - (preamble + unpadded) % kAlign;
    return unpadded + pad;
  };
  std::size_t header_len = layout(2);
  bool v1 = header_len <= std::numeric_limits<uint16_t>::max();
  if (!v1) header_len = layout(4);
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(v1 ? 1 : 2);
  out += '\0';
  for (std::size_t b = 0; b < (v1 ? 2u : 4u); ++b) out += static_cast<char>((header_len >> (8 * b)) & 0xff);
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out += '\n';
  return out;
}

// A contiguous CPU copy (or the tensor itself), outside autograd.
Tensor host_contiguous(const Tensor& t, const char* op) {
  SG_CHECK(t.defined(), op, ": expected a tensor, got an undefined (empty) Tensor handle");
  NoGradGuard no_grad;
  return t.detach().to(Device::cpu()).contiguous();
}

const char* npy_descr(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Int64: return "<i8";
  }
  return "?";
}

// The flat index of the first value that is not an integer in 0..255, or -1.
template <class T>
int64_t first_non_byte(const T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T v = p[i];
    // Written so that NaN fails too.
    if (!(v >= 0 && v <= 255 && static_cast<T>(static_cast<int64_t>(v)) == v)) return i;
  }
  return -1;
}

std::string hex_bytes(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) {
    if (!s.empty()) s += ' ';
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s.empty() ? "nothing" : s;
}

// ---- reading the header dict -----------------------------------------------------------
// A parser for the small subset of Python literals numpy writes: a dict of
// 'descr' (a string), 'fortran_order' (True/False) and 'shape' (a tuple of ints).
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  void parse(std::string& descr, bool& fortran_order, Shape& shape) {
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        descr = parse_string();
        seen_descr = true;
      } else if (key == "fortran_order") {
        fortran_order = parse_bool();
        seen_order = true;
      } else if (key == "shape") {
        shape = parse_shape();
        seen_shape = true;
      } else {
        fail(str("unexpected key '", key, "' (expected only 'descr', 'fortran_order' and 'shape')"));
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++i_;
    skip_space();
    if (i_ != s_.size()) fail("unexpected text after the closing '}'");
    if (!(seen_descr && seen_order && seen_shape))
      fail("expected the keys 'descr', 'fortran_order' and 'shape'; some are missing");
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    std::string shown = s_.substr(0, 200);
    while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n')) shown.pop_back();
    throw Error(str("load_npy: '", path_, "' has a header that does not parse: ", why, " at character ", i_,
                    " of \"", shown, "\""));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(str("expected '", c, "'"));
    ++i_;
  }
  std::string parse_string() {
    skip_space();
    char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    std::size_t end = s_.find(quote, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string value = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return value;
  }
  bool parse_bool() {
    skip_space();
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  int64_t parse_int() {
    skip_space();
    if (peek() == '-') fail("expected a non-negative dimension");
    if (!(peek() >= '0' && peek() <= '9')) fail("expected an integer");
    int64_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      int digit = peek() - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) fail("dimension too large");
      value = value * 10 + digit;
      ++i_;
    }
    if (peek() == 'L') ++i_;  // Python 2 longs, in files from old numpy versions
    return value;
  }
  Shape parse_shape() {
    Shape shape;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      shape.push_back(parse_int());
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')' in the shape");
    }
    ++i_;
    return shape;
  }

  const std::string& s_;
  const std::string& path_;
  std::size_t i_ = 0;
};

struct NpyDtype {
  DType dtype;
  std::size_t itemsize;  // in the file
  bool widen_u8;         // '|u1': read bytes, store as Int64
};

NpyDtype parse_descr(const std::string& descr, const std::string& path) {
  const std::string supported = "'<f4' (float32), '<f8' (float64), '<i8' (int64), '|u1' (uint8, loaded as int64)";
  std::string code = descr.size() == 3 ? descr.substr(1) : "";
  char order = descr.empty() ? '\0' : descr[0];
  if (code == "u1" && (order == '|' || order == '<' || order == '>' || order == '=')) return {DType::Int64, 1, true};
  bool known = code == "f4" || code == "f8" || code == "i8";
  SG_CHECK(!(known && order == '>'), "load_npy: '", path, "' holds big-endian data (dtype '", descr,
           "'); only little-endian is supported (in numpy: a.astype(a.dtype.newbyteorder('<')))");
  SG_CHECK(known && (order == '<' || order == '|'), "load_npy: '", path, "' has dtype '", descr,
           "', which is not supported; expected one of ", supported);
  if (code == "f4") return {DType::Float32, 4, false};
  if (code == "f8") return {DType::Float64, 8, false};
  return {DType::Int64, 8, false};
}

// prod(shape) * itemsize, or an error when the shape cannot be a tensor's (the same rule
// as every tensor: core/tensor.h checked_numel), so that what loads can be saved again.
uint64_t data_bytes(const Shape& shape, const NpyDtype& type, const std::string& path) {
  int64_t numel = 0;
  try {
    numel = checked_numel(shape, "load_npy", std::max(type.itemsize, dtype_size(type.dtype)));
  } catch (const Error&) {
    detail::throw_error("load_npy: '", path, "' has shape ", shape_repr(shape),
                        ", too large for a tensor (its element count or a stride does not fit in 64 bits)");
  }
  return static_cast<uint64_t>(numel) * type.itemsize;
}

void write_npy(const std::string& path, const std::string& header, const void* data, std::size_t nbytes) {
  write_file_atomically(path, [&](std::ostream& os) {
    os.write(header.data(), static_cast<std::streamsize>(header.size()));
    if (nbytes) os.write(static_cast<const char*>(data), static_cast<std::streamsize>(nbytes));
  });
}

}  // namespace

void save_npy(const std::string& path, const Tensor& t) {
  Tensor c = host_contiguous(t, "save_npy");
  std::size_t nbytes = static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype());
  write_npy(path, npy_header(npy_descr(c.dtype()), c.shape()), c.raw_data(), nbytes);
}

void save_npy_uint8(const std::string& path, const Tensor& t) {
  Tensor c = host_contiguous(t, "save_npy_uint8");
  const int64_t n = c.numel();
  std::vector<uint8_t> bytes(static_cast<std::size_t>(n));
  auto convert = [&](const auto* p) {
    int64_t bad = first_non_byte(p, n);
    SG_CHECK(bad < 0, "save_npy_uint8: expected integer values in 0..255, got ", p[bad], " at flat index ", bad,
             " of a ", dtype_name(c.dtype()), " tensor of shape ", shape_str(c.shape()));
    for (int64_t i = 0; i < n; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<uint8_t>(p[i]);
  };
  switch (c.dtype()) {
    case DType::Float32: convert(c.data<float>()); break;
    case DType::Float64: convert(c.data<double>()); break;
    case DType::Int64: convert(c.data<int64_t>()); break;
  }
  write_npy(path, npy_header("|u1", c.shape()), bytes.data(), bytes.size());
}

Tensor load_npy(const std::string& path) {
  std::error_code ec;
  SG_CHECK(!std::filesystem::is_directory(path, ec), "load_npy: expected a .npy file, got the directory '", path, "'");
  std::ifstream in(path, std::ios::binary);
  SG_CHECK(in, "load_npy: cannot open '", path, "': ", std::strerror(errno));
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);

  std::string preamble(std::min<uint64_t>(file_size, 8), '\0');
  in.read(preamble.data(), static_cast<std::streamsize>(preamble.size()));
  SG_CHECK(preamble.size() == 8 && preamble.compare(0, kMagicLen, kMagic, kMagicLen) == 0, "load_npy: '", path,
           "' is not a .npy file (bad magic: expected the bytes 93 4e 55 4d 50 59 (\\x93NUMPY), got ",
           hex_bytes(preamble.substr(0, kMagicLen)), ")");
  const int major = static_cast<unsigned char>(preamble[6]), minor = static_cast<unsigned char>(preamble[7]);
  SG_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, "load_npy: '", path,
           "' has .npy format version ", major, ".", minor, "; expected 1.0, 2.0 or 3.0");

  // 1.0: uint16 header length; 2.0 and 3.0 (utf-8 header): uint32.
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  unsigned char length_field[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(length_field), static_cast<std::streamsize>(length_bytes));
  SG_CHECK(in.gcount() == static_cast<std::streamsize>(length_bytes), "load_npy: '", path,
           "' is truncated: expected a ", length_bytes, "-byte header length after the magic, the file ends first");
  uint64_t header_len = 0;
  for (std::size_t b = 0; b < length_bytes; ++b) header_len |= static_cast<uint64_t>(length_field[b]) << (8 * b);
  const uint64_t data_offset = 8 + length_bytes + header_len;
  SG_CHECK(data_offset <= file_size, "load_npy: '", path, "' is truncated: its header promises ", header_len,
           " bytes, the file has only ", file_size - 8 - length_bytes, " after the preamble");

  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  std::string descr;
  bool fortran_order = false;
  Shape shape;
  HeaderParser(header, path).parse(descr, fortran_order, shape);
  NpyDtype type = parse_descr(descr, path);
  SG_CHECK(!fortran_order, "load_npy: '", path, "' is stored in Fortran (column-major) order (fortran_order: True); "
           "only C order is supported (in numpy: save np.ascontiguousarray(a))");

  const uint64_t expected = data_bytes(shape, type, path);
  const uint64_t found = file_size - data_offset;
  SG_CHECK(found >= expected, "load_npy: '", path, "' is truncated: expected ", expected, " bytes of data, found ",
           found, " (shape ", shape_repr(shape), ", dtype '", descr, "')");
  SG_CHECK(found == expected, "load_npy: '", path, "' has ", found - expected,
           " unexpected trailing bytes: expected ", expected, " bytes of data, found ", found);

  Tensor t = empty(shape, {type.dtype});
  if (type.widen_u8) {
    std::vector<unsigned char> bytes(expected);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(expected));
    int64_t* out = t.data<int64_t>();
    for (std::size_t i = 0; i < bytes.size(); ++i) out[i] = bytes[i];
  } else if (expected) {
    in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(expected));
  }
  SG_CHECK(in.good() || expected == 0, "load_npy: reading the data of '", path, "' failed: ", std::strerror(errno));
  return t;
}

}  // namespace sg
