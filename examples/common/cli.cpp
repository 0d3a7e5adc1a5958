#include "cli.h"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <system_error>

#include "distributed/communicator.h"

#include "core/error.h"

namespace sg::examples {

int64_t parse_integer(const std::string& text, const std::string& what) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  SG_CHECK(ec != std::errc::result_out_of_range, what, ": ", text, " is out of range for a 64-bit integer");
  SG_CHECK(ec == std::errc() && stop == end && !text.empty(), what, ": expected an integer, got \"", text, "\"");
  return value;
}

namespace {
CLI::Validator bound(const char* description, bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& input) -> std::string {
        double value = 0;
        try {
          std::size_t used = 0;
          value = std::stod(input, &used);
          if (used != input.size()) throw std::invalid_argument(input);
        } catch (const std::exception&) {
          return "expected a number, got \"" + input + "\"";
        }
        if (allow_zero ? value >= 0 : value > 0) return "";
        return std::string("expected a value ") + (allow_zero ? ">= 0" : "> 0") + ", got " + input;
      },
      description);
}
}  // namespace

CLI::Validator positive() { return bound("POSITIVE", false); }
CLI::Validator non_negative() { return bound("NON-NEGATIVE", true); }

void ensure_writable_dir(const std::string& dir, const std::string& option) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  SG_CHECK(!ec, option, ": cannot create the directory '", dir, "': ", ec.message());
  SG_CHECK(fs::is_directory(dir, ec), option, ": '", dir, "' is not a directory");
  const std::string probe = (fs::path(dir) / ".sigmagrad_write_test").string();
  {
    std::ofstream out(probe);
    out << "probe\n";
    out.flush();
    SG_CHECK(out.good(), option, ": the directory '", dir, "' is not writable (", std::strerror(errno), ")");
  }
  fs::remove(probe, ec);
}

int run_main(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
  } catch (...) {
    std::cerr << program << ": failed with an unknown exception\n";
  }
  // Under mpirun: end every rank now, rather than leave the others waiting for this one.
  std::cerr << std::flush;
  dist::stop_job_after_error(1);
  return 1;
}

}  // namespace sg::examples
