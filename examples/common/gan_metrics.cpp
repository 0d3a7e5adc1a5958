#include "gan_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "cli.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "text_files.h"

namespace sg::examples {

namespace {

// ",%.9g": enough digits that a resumed run's rows compare byte for byte.
std::string cell(double value) {
  char text[32];
  std::snprintf(text, sizeof text, ",%.9g", value);
  return text;
}

}  // namespace

bool StepMetrics::losses_finite() const { return std::isfinite(loss_d) && std::isfinite(loss_g); }

std::map<std::string, double> StepMetrics::by_name() const {
  return {{"loss_d", loss_d}, {"loss_g", loss_g}, {"d_real", d_real}, {"d_fake", d_fake}};
}

std::string StepMetrics::progress_text() const {
  char text[96];
  std::snprintf(text, sizeof text, "D %.3f G %.3f D(x) %.2f D(G(z)) %.2f", loss_d, loss_g, d_real, d_fake);
  return text;
}

int report_divergence(const StepMetrics& metrics, int64_t iteration) {
  std::fprintf(stderr, "mnist_gan: diverged: non-finite loss (D %g, G %g) at iteration %lld\n", metrics.loss_d,
               metrics.loss_g, static_cast<long long>(iteration));
  return kGanDivergedExitCode;
}

// ---- metrics.csv ----------------------------------------------------------------------------
MetricsCsv::MetricsCsv(std::string path, std::vector<SNLayer> sn_layers)
    : path_(std::move(path)), sn_layers_(std::move(sn_layers)) {}

std::string MetricsCsv::header() const {
  std::string h = "iteration,epoch,loss_d,loss_g,d_real,d_fake";
  for (const SNLayer& l : sn_layers_) h += str(",", kSigmaColumn, l.name);
  for (const SNLayer& l : sn_layers_) h += str(",", kAppliedColumn, l.name);
  for (const SNLayer& l : sn_layers_)  // BSN: each reshape's sigma (sigma is their mean)
    if (l.sn->options().variant == SNVariant::BSN) h += ",sigma1_" + l.name + ",sigma2_" + l.name;
  for (const SNLayer& l : sn_layers_) {  // --sn-topk: the k largest singular values (k <= the matrix's rank)
    const std::string block = l.sn->options().param + "_topk_v";
    if (l.module->has_buffer(block))
      for (int64_t i = 1; i <= l.module->buffer(block).shape()[1]; ++i) h += str(",sv", i, "_", l.name);
  }
  return h;
}

std::string MetricsCsv::row(int64_t iteration, int epoch, const StepMetrics& m) const {
  std::string row = str(iteration, ",", epoch) + cell(m.loss_d) + cell(m.loss_g) + cell(m.d_real) + cell(m.d_fake);
  for (const SNLayer& l : sn_layers_) row += cell(l.sn->telemetry().sigma);
  for (const SNLayer& l : sn_layers_) row += l.sn->telemetry().applied ? ",1" : ",0";
  for (const SNLayer& l : sn_layers_)
    if (l.sn->options().variant == SNVariant::BSN)
      for (double s : l.sn->telemetry().term_sigmas) row += cell(s);
  for (const SNLayer& l : sn_layers_)
    for (double s : l.sn->telemetry().top_singular_values) row += cell(s);
  return row;
}

void MetricsCsv::start() {
  if (path_.empty()) return;
  write_file_atomically(path_, [&](std::ostream& out) { out << header() << "\n"; });
  open_for_appending();
}

// A run killed while writing a row leaves a partial last line: reading stops at the
// first row past the checkpoint or with fewer fields than the header, whichever is first.
void MetricsCsv::resume(int64_t iteration) {
  if (path_.empty()) return;
  std::ifstream in(path_);
  SG_CHECK(in.good(), "--resume: ", path_, " is missing");
  std::vector<std::string> kept;
  std::string line;
  std::ptrdiff_t fields = 0;
  for (int64_t row = 1; std::getline(in, line); ++row) {
    if (kept.empty()) {
      fields = std::count(line.begin(), line.end(), ',');
    } else {
      if (std::count(line.begin(), line.end(), ',') != fields) break;
      const std::string first = line.substr(0, line.find(','));
      if (parse_integer(first, str("--resume: ", path_, " line ", row, ": the iteration")) > iteration) break;
    }
    kept.push_back(line);
  }
  write_file_atomically(path_, [&](std::ostream& out) {
    for (const std::string& l : kept) out << l << "\n";
  });
  open_for_appending();
}

void MetricsCsv::append(int64_t iteration, int epoch, const StepMetrics& metrics) {
  if (path_.empty()) return;
  file_ << row(iteration, epoch, metrics) << "\n" << std::flush;
}

// ---- reading it back (the SN study) -----------------------------------------------------------
MetricsSummary summarise_metrics(const std::string& path) {
  MetricsSummary summary;
  const auto rows = read_csv(path);
  if (rows.empty()) return summary;
  const std::vector<std::string>& header = rows[0];
  const std::string sigma_prefix = kSigmaColumn, applied_prefix = kAppliedColumn;
  for (std::size_t c = 0; c < header.size(); ++c) {
    if (header[c].rfind(applied_prefix, 0) != 0) continue;
    SnLayerSummary layer{header[c].substr(applied_prefix.size())};
    double on = 0, n = 0;
    for (std::size_t r = 1; r < rows.size(); ++r)
      if (c < rows[r].size()) on += rows[r][c] == "1", n += 1;
    layer.applied_share = n > 0 ? on / n : 0.0;
    const auto sigma = std::find(header.begin(), header.end(), sigma_prefix + layer.layer);
    const std::size_t s = static_cast<std::size_t>(sigma - header.begin());
    for (std::size_t r = rows.size(); sigma != header.end() && r-- > 1;)
      if (s < rows[r].size() && std::isfinite(std::strtod(rows[r][s].c_str(), nullptr))) {
        layer.final_sigma = rows[r][s];
        break;
      }
    summary.sn_layers.push_back(layer);
  }
  summary.last_epoch = static_cast<int>(rows.size() > 1 ? parse_integer(rows.back().at(1), "metrics.csv epoch") : 0);
  return summary;
}

}  // namespace sg::examples
