#pragma once
// What every example's command line shares: integers parsed with a message that names
// the option, validators whose messages read well, an output directory proven writable
// before training, and a main() that turns any failure into one line and exit code 1.
#include <cstdint>
#include <functional>
#include <string>

// Declared only: CLI11 is a large header, and most files that include this one never
// parse a command line (the mains and the .cpp include <CLI/CLI.hpp> themselves).
namespace CLI {
class Validator;
}  // namespace CLI

namespace sg::examples {

// The whole of `text` as an integer, or an sg::Error: "<what>: expected an integer, got "x"".
int64_t parse_integer(const std::string& text, const std::string& what);

// "must be > 0" / ">= 0" without printing the largest double (CLI11's PositiveNumber does).
CLI::Validator positive();
CLI::Validator non_negative();

// Creates `dir` if needed and writes and removes a probe file in it, so that a bad --out
// (under a regular file, read-only, full) fails before a training run, not after it.
void ensure_writable_dir(const std::string& dir, const std::string& option);

// Runs `body`; an exception of any kind is printed as "<program>: <message>" on stderr
// and becomes exit code 1 (never an abort; under mpirun, every rank ends with that code).
int run_main(const char* program, const std::function<int()>& body);

}  // namespace sg::examples
