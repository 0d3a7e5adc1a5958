#include "lipschitz_log.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "io/atomic_file.h"
#include "text_files.h"

namespace sg::examples {

namespace {

std::string csv_path(const std::string& out_dir) { return out_dir + "/lipschitz.csv"; }

std::string csv_header(const LipschitzReport& r) {
  std::string h = "epoch,certified_bound,empirical_lower";
  for (const LayerLipschitz& l : r.layers)
    if (l.has_weight) h += ",reshaped_" + l.name + ",lower_" + l.name + ",certified_" + l.name;
  return h;
}

std::string csv_row(int epoch, const LipschitzReport& r) {
  char cell[96];
  std::snprintf(cell, sizeof cell, "%d,%.9g,%.9g", epoch, r.certified_bound, r.empirical_lower);
  std::string row = cell;
  for (const LayerLipschitz& l : r.layers)
    if (l.has_weight) {
      std::snprintf(cell, sizeof cell, ",%.9g,%.9g,%.9g", l.reshaped_sigma, l.operator_lower, l.certified_upper);
      row += cell;
    }
  return row;
}

}  // namespace

void log_discriminator_lipschitz(const std::string& out_dir, int epoch, Sequential& discriminator,
                                 const Tensor& test_images, Device device) {
  const int64_t n = std::min<int64_t>(64, test_images.shape()[0]);
  log_lipschitz(out_dir, epoch, lipschitz_report(discriminator, {1, 1, 28, 28}, test_images.slice(0, 0, n).to(device)));
}

void log_lipschitz(const std::string& out_dir, int epoch, const LipschitzReport& r) {
  append_csv_row(csv_path(out_dir), csv_header(r), csv_row(epoch, r));
  write_file_atomically(out_dir + "/lipschitz.txt", [&](std::ostream& out) {
    out << "D after epoch " << epoch << " (eval mode, SN applied; activations' constants as listed)\n" << r.table();
  });
  std::printf("epoch %d: D is at most %.4f-Lipschitz (certified) and at least %.4f (input gradients of %lld real digits)\n",
              epoch, r.certified_bound, r.empirical_lower, static_cast<long long>(r.empirical_samples));
}

void remove_lipschitz_log(const std::string& out_dir) { std::filesystem::remove(csv_path(out_dir)); }

void truncate_lipschitz(const std::string& out_dir, int last_epoch) {
  std::ifstream in(csv_path(out_dir));
  if (!in.good()) return;
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    if (!kept.empty() && (line.empty() || line[0] < '0' || line[0] > '9' || std::stoi(line) > last_epoch)) break;
    kept.push_back(line);
  }
  write_file_atomically(csv_path(out_dir), [&](std::ostream& out) {
    for (const std::string& l : kept) out << l << "\n";
  });
}

}  // namespace sg::examples
