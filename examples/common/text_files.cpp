#include "text_files.h"

#include <fstream>
#include <iterator>
#include <sstream>

#include "io/atomic_file.h"

namespace sg::examples {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
  }
  return rows;
}

void append_csv_row(const std::string& path, const std::string& header, const std::string& row) {
  std::string content = read_text_file(path);
  if (content.empty()) content = header + "\n";
  write_file_atomically(path, [&](std::ostream& out) { out << content << row << "\n"; });
}

}  // namespace sg::examples
