#pragma once
// Every user-facing failure is an sg::Error whose message says what was expected and
// what was given. SG_CHECK(cond, parts...) streams the parts into the message.
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sg {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Streams the parts into one string: str("input ", 3, " of shape ", shape_str(s)).
template <class... Parts>
std::string str(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  return message.str();
}

namespace detail {
template <class... Parts>
[[noreturn]] void throw_error(const Parts&... parts) {
  throw Error(str(parts...));
}
}  // namespace detail

// "[2, 3]" for shapes, strides and dim lists in error messages.
template <class Int>
std::string list_str(const std::vector<Int>& values) {
  std::string s = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(values[i]);
  }
  return s + "]";
}

}  // namespace sg

#define SG_CHECK(cond, ...)                       \
  do {                                            \
    if (!(cond)) ::sg::detail::throw_error(__VA_ARGS__); \
  } while (0)
