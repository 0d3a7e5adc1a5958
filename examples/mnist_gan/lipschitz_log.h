#pragma once
// The discriminator's Lipschitz report (tools/lipschitz.h) once per epoch: the table in
// OUT/lipschitz.txt, one row per epoch in OUT/lipschitz.csv (plotted in training.png).
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "tools/lipschitz.h"

namespace sg::examples {

inline std::string lipschitz_csv_header(const LipschitzReport& r) {
  std::string h = "epoch,certified_bound,empirical_lower";
  for (const LayerLipschitz& l : r.layers)
    if (l.has_weight) h += ",reshaped_" + l.name + ",lower_" + l.name + ",certified_" + l.name;
  return h;
}

inline void log_lipschitz(const std::string& out_dir, int epoch, const LipschitzReport& r) {
  const std::string csv = out_dir + "/lipschitz.csv";
  std::ifstream existing(csv);
  std::string content((std::istreambuf_iterator<char>(existing)), std::istreambuf_iterator<char>());
  if (content.empty()) content = lipschitz_csv_header(r) + "\n";
  char cell[96];
  std::snprintf(cell, sizeof cell, "%d,%.9g,%.9g", epoch, r.certified_bound, r.empirical_lower);
  std::string row = cell;
  for (const LayerLipschitz& l : r.layers)
    if (l.has_weight) {
      std::snprintf(cell, sizeof cell, ",%.9g,%.9g,%.9g", l.reshaped_sigma, l.operator_lower, l.certified_upper);
      row += cell;
    }
  write_file_atomically(csv, [&](std::ostream& out) { out << content << row << "\n"; });
  write_file_atomically(out_dir + "/lipschitz.txt", [&](std::ostream& out) {
    out << "D after epoch " << epoch << " (eval mode, SN applied; activations' constants as listed)\n" << r.table();
  });
  std::printf("epoch %d: D is at most %.4f-Lipschitz (certified) and at least %.4f (input gradients of %lld real digits)\n",
              epoch, r.certified_bound, r.empirical_lower, static_cast<long long>(r.empirical_samples));
}

// A resumed run drops the rows after the checkpoint's epoch (it recomputes them).
inline void truncate_lipschitz(const std::string& out_dir, int last_epoch) {
  const std::string csv = out_dir + "/lipschitz.csv";
  std::ifstream in(csv);
  if (!in.good()) return;
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    if (!kept.empty() && (line.empty() || line[0] < '0' || line[0] > '9' || std::stoi(line) > last_epoch)) break;
    kept.push_back(line);
  }
  write_file_atomically(csv, [&](std::ostream& out) {
    for (const std::string& l : kept) out << l << "\n";
  });
}

}  // namespace sg::examples
