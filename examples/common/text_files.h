#pragma once
// Small text files the GAN tooling and the SN study keep: whole-file reads, CSV rows,
// and a row added so that a crash leaves the old file or the new one, never half of it.
#include <string>
#include <vector>

namespace sg::examples {

// The whole file; "" when it is missing.
std::string read_text_file(const std::string& path);

// The file's lines split at commas (a trailing comma makes a last, empty cell); no rows
// when it is missing.
std::vector<std::vector<std::string>> read_csv(const std::string& path);

// Appends `row` as a line, atomically (io/atomic_file.h); a missing or empty file
// gets `header` first.
void append_csv_row(const std::string& path, const std::string& header, const std::string& row);

}  // namespace sg::examples
