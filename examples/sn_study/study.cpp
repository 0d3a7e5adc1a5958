#include "study.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "../common/cli.h"
#include "../common/gan_metrics.h"
#include "../common/gan_plots.h"
#include "../common/gan_scores.h"
#include "../common/text_files.h"
#include "core/error.h"
#include "io/atomic_file.h"

namespace sg::examples {

const OptimiserSetting& optimiser_setting(const std::string& name) {
  // Miyato et al. 2018, Table 1: learning rate, beta1, beta2, D steps per G step.
  static const std::vector<OptimiserSetting> table = {
      {"A", 1e-4, 0.5, 0.9, 5},   {"B", 1e-4, 0.5, 0.999, 1}, {"C", 2e-4, 0.5, 0.999, 1},
      {"D", 1e-3, 0.5, 0.9, 5},   {"E", 1e-3, 0.5, 0.999, 5}, {"F", 1e-3, 0.9, 0.999, 5}};
  for (const OptimiserSetting& s : table)
    if (s.name == name) return s;
  detail::throw_error("--settings: expected names from A to F (Miyato et al. 2018, Table 1), got \"", name, "\"");
}

std::string sn_arguments(const std::string& config) {
  if (config == "none" || config == "all" || config == "clamp" || config == "adaptive" || config == "balance" ||
      config == "log")
    return "--sn " + config;
  if (config == "bsn") return "--sn all --sn-variant bsn";
  if (config.rfind("layers:", 0) == 0) {
    std::string layers = config.substr(7);
    std::replace(layers.begin(), layers.end(), '+', ',');  // "layers:0+1": a comma would split the list
    SG_CHECK(!layers.empty(), "--sn: expected layers:0, layers:last, layers:all-but-last or layers:0+1, got \"", config, "\"");
    return "--sn all --sn-layers " + layers;
  }
  detail::throw_error("--sn: unknown SN configuration \"", config, "\" (expected none, all, layers:SPEC, clamp, bsn, "
                      "adaptive, balance or log)");
}

std::string StudyRun::id() const {
  std::string c = config;
  for (char& ch : c)
    if (ch == ':' || ch == '+' || ch == ',') ch = '_';
  return setting.name + "-" + c + "-s" + std::to_string(seed);
}

std::string StudyRun::command(const StudyOptions& o, const std::string& dir) const {
  std::ostringstream c;
  c << "'" << o.gan_program << "' --model " << o.model << " " << sn_arguments(config) << " --lr " << setting.lr * o.lr_scale
    << " --betas " << setting.beta1 << " " << setting.beta2 << " --n-dis " << setting.n_dis << " --seed " << seed
    << " --epochs " << o.epochs << " --batch " << o.batch << " --iters " << o.iters << " --data '" << o.data
    << "' --device " << o.device << " --log-every 1 --out '" << dir << "' --classifier '" << o.classifier
    << "' --eval-samples " << o.eval_samples;
  if (o.no_eval) c << " --no-eval";
  if (o.dump_samples > 0) c << " --dump-samples " << o.dump_samples << " '" << dir << "/samples.npy'";
  return c.str();
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<StudyRun> study_grid(const StudyOptions&, const std::vector<std::string>& settings,
                                 const std::vector<std::string>& configs, const std::vector<std::string>& seeds) {
  SG_CHECK(!settings.empty() && !configs.empty() && !seeds.empty(), "sn_study: the grid is empty (expected at least "
           "one setting, one SN configuration and one seed)");
  for (const std::string& c : configs) sn_arguments(c);  // unknown names fail before any run
  std::vector<StudyRun> runs;
  for (const std::string& seed : seeds)  // seed-major: a partial study covers every cell once first
    for (const std::string& s : settings)
      for (const std::string& c : configs) runs.push_back({optimiser_setting(s), c, parse_integer(seed, "--seeds")});
  return runs;
}

// ---- results.csv ----------------------------------------------------------------------------
std::string StudyRow::summary() const {
  if (diverged) return "diverged";
  if (!scored) return "trained (no scores)";
  char text[96];
  std::snprintf(text, sizeof text, "fid=%.2f modes=%d kl=%.4f", fid, modes, kl);
  return text;
}

std::string StudyRow::csv() const {
  char numbers[160];
  std::snprintf(numbers, sizeof numbers, "%s,%.6g,%d,%.6g", diverged ? "yes" : "no", scored ? fid : NAN,
                scored ? modes : 0, scored ? kl : NAN);
  char time[32];
  std::snprintf(time, sizeof time, "%.1f", seconds);
  return str(setting, ",", config, ",", seed, ",", epochs, ",", numbers, ",", sn_on_fraction, ",", final_sigma, ",", time);
}

namespace {

// Rows of DIR/results.csv as StudyRows (the header skipped).
std::vector<StudyRow> read_results(const std::string& dir) {
  std::vector<StudyRow> out;
  auto rows = read_csv(dir + "/results.csv");
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& r = rows[i];
    SG_CHECK(r.size() == 11, "sn_study: ", dir, "/results.csv line ", i + 1, " has ", r.size(), " fields, expected 11");
    StudyRow row;
    row.setting = r[0], row.config = r[1], row.seed = parse_integer(r[2], "results.csv seed");
    row.epochs = static_cast<int>(parse_integer(r[3], "results.csv epochs"));
    row.diverged = r[4] == "yes";
    row.fid = std::strtod(r[5].c_str(), nullptr), row.modes = std::atoi(r[6].c_str()), row.kl = std::strtod(r[7].c_str(), nullptr);
    row.scored = std::isfinite(row.fid);
    row.sn_on_fraction = r[8], row.final_sigma = r[9], row.seconds = std::strtod(r[10].c_str(), nullptr);
    out.push_back(row);
  }
  return out;
}

}  // namespace

std::string StudyOptions::identity() const {
  return str("model=", model, " epochs=", epochs, " iters=", iters, " batch=", batch, " data=", data, " device=", device,
             " eval_samples=", eval_samples, " lr_scale=", lr_scale, " no_eval=", no_eval);
}

void check_study_identity(const StudyOptions& o) {
  const std::string path = o.out + "/study.txt";
  std::ifstream in(path);
  std::string saved;
  std::getline(in, saved);
  if (saved.empty()) {
    write_file_atomically(path, [&](std::ostream& out) { out << o.identity() << "\n"; });
    return;
  }
  SG_CHECK(saved == o.identity(), "sn_study: ", o.out, " holds a study with other run settings; its rows would mix "
           "with these. It was made with:\n  ", saved, "\nthis run:\n  ", o.identity(),
           "\n(use another --out, or the same settings)");
}

std::set<std::string> finished_runs(const std::string& dir) {
  std::set<std::string> ids;
  for (const StudyRow& row : read_results(dir))
    ids.insert(StudyRun{optimiser_setting(row.setting), row.config, row.seed}.id());
  return ids;
}

StudyRow collect_row(const StudyRun& run, const std::string& run_dir, bool diverged, double seconds) {
  StudyRow row{run.setting.name, run.config, run.seed};
  row.diverged = diverged;
  row.seconds = seconds;
  const std::string log = read_text_file(run_dir + "/log.txt");
  if (!diverged && printed_scores(log)) {
    const std::optional<GanScores> scores = parse_scores_line(log);
    SG_CHECK(scores.has_value(), "sn_study: run ", run.id(), " ended without its scores line (", run_dir, "/log.txt)");
    row.fid = scores->fid, row.modes = scores->coverage.modes, row.kl = scores->coverage.kl;
    row.scored = true;
  }
  // SN statistics from metrics.csv (one row per iteration): per SN layer, the share of
  // rows with SN applied, and the last finite sigma.
  const MetricsSummary metrics = summarise_metrics(run_dir + "/metrics.csv");
  for (const SnLayerSummary& layer : metrics.sn_layers) {
    char cell[64];
    std::snprintf(cell, sizeof cell, "%s%s:%.3f", row.sn_on_fraction.empty() ? "" : ";", layer.layer.c_str(),
                  layer.applied_share);
    row.sn_on_fraction += cell;
    row.final_sigma += (row.final_sigma.empty() ? "" : ";") + layer.layer + ":" + layer.final_sigma;
  }
  row.epochs = metrics.last_epoch;
  return row;
}

void append_row(const std::string& dir, const StudyRow& row) {
  append_csv_row(dir + "/results.csv", kResultsHeader, row.csv());
}

// ---- the report ---------------------------------------------------------------------------------
namespace {

struct Cell {
  std::vector<double> fid, modes, kl;
  int runs = 0, diverged = 0;
};

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / static_cast<double>(v.size());
}

// The sample standard deviation (0 for one value).
double spread_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

std::string cell_text(const Cell& c, const std::vector<double> Cell::*field, int precision) {
  if (c.runs == 0) return "";
  const std::vector<double>& v = c.*field;
  char text[96];
  if (v.empty()) std::snprintf(text, sizeof text, "all %d diverged", c.runs);
  else if (c.diverged) std::snprintf(text, sizeof text, "%.*f ± %.*f (%d of %d diverged)", precision, mean_of(v), precision, spread_of(v), c.diverged, c.runs);
  else std::snprintf(text, sizeof text, "%.*f ± %.*f", precision, mean_of(v), precision, spread_of(v));
  return text;
}

// timelines.png: for the adaptive policies (adaptive, balance), the first seed's run at
// every setting: D's first SN layer's sigma over the iterations, and when SN was on.
void write_timelines(const std::string& dir, const std::vector<StudyRow>& rows) {
  struct Trace {
    std::string title, metrics;
    std::size_t sigma_column = 0, applied_column = 0;
  };
  std::vector<Trace> traces;
  int64_t first_seed = rows.front().seed;
  for (const StudyRow& r : rows) first_seed = std::min(first_seed, r.seed);
  for (const StudyRow& r : rows) {
    if ((r.config != "adaptive" && r.config != "balance") || r.seed != first_seed) continue;
    Trace t{r.setting + " " + r.config, dir + "/runs/" + StudyRun{optimiser_setting(r.setting), r.config, r.seed}.id() + "/metrics.csv"};
    auto csv = read_csv(t.metrics);
    if (csv.empty()) continue;
    for (std::size_t c = 0; c < csv[0].size(); ++c) {  // gnuplot counts columns from 1
      if (!t.sigma_column && csv[0][c].rfind(kSigmaColumn, 0) == 0) t.sigma_column = c + 1;
      if (!t.applied_column && csv[0][c].rfind(kAppliedColumn, 0) == 0) t.applied_column = c + 1;
    }
    if (t.sigma_column && t.applied_column) traces.push_back(t);
  }
  if (traces.empty()) return;
  write_file_atomically(dir + "/timelines.gp", [&](std::ostream& s) {
    s << "set datafile separator ','\nset terminal png size 1100,800\nset output '" << dir << "/timelines.png.tmp'\n"
      << "set multiplot layout 2,1\nset key outside right\nset grid\nset xlabel 'iteration'\n"
      << "set title \"sigma of D's first SN layer (adaptive policies, first seed)\"\nplot ";
    for (std::size_t k = 0; k < traces.size(); ++k)
      s << (k ? ", " : "") << "'" << traces[k].metrics << "' using 1:" << traces[k].sigma_column << " with lines title '"
        << traces[k].title << "'";
    s << "\nset title 'SN on (1) or off (0), runs stacked'\nset ytics ()\nplot ";
    for (std::size_t k = 0; k < traces.size(); ++k)
      s << (k ? ", " : "") << "'" << traces[k].metrics << "' using 1:($" << traces[k].applied_column << "*0.8+" << 1.2 * k
        << ") with steps title '" << traces[k].title << "'";
    s << "\nunset multiplot\n";
  });
  render_gnuplot(dir + "/timelines.gp", dir + "/timelines.png");
}

}  // namespace

void write_report(const std::string& dir) {
  const std::vector<StudyRow> rows = read_results(dir);
  SG_CHECK(!rows.empty(), "sn_study: ", dir, "/results.csv has no finished runs to report");
  std::vector<std::string> settings, configs;
  std::map<std::pair<std::string, std::string>, Cell> cells;
  for (const StudyRow& r : rows) {
    if (std::find(settings.begin(), settings.end(), r.setting) == settings.end()) settings.push_back(r.setting);
    if (std::find(configs.begin(), configs.end(), r.config) == configs.end()) configs.push_back(r.config);
    Cell& c = cells[{r.config, r.setting}];
    ++c.runs;
    if (r.diverged || !std::isfinite(r.fid)) {
      ++c.diverged;
      continue;
    }
    c.fid.push_back(r.fid), c.modes.push_back(r.modes), c.kl.push_back(r.kl);
  }
  std::sort(settings.begin(), settings.end());
  auto table = [&](const char* title, const std::vector<double> Cell::*field, int precision) {
    std::string md = str("### ", title, "\n\n| SN \\ setting |");
    for (const std::string& s : settings) {
      const OptimiserSetting& o = optimiser_setting(s);
      char head[96];
      std::snprintf(head, sizeof head, " %s (lr %g, β %g/%g, n_dis %d) |", s.c_str(), o.lr, o.beta1, o.beta2, o.n_dis);
      md += head;
    }
    md += "\n| --- |";
    for (std::size_t i = 0; i < settings.size(); ++i) md += " --- |";
    md += "\n";
    for (const std::string& c : configs) {
      md += str("| ", c, " |");
      for (const std::string& s : settings) md += str(" ", cell_text(cells[{c, s}], field, precision), " |");
      md += "\n";
    }
    return md + "\n";
  };
  int diverged = 0;
  for (const StudyRow& r : rows) diverged += r.diverged;
  write_file_atomically(dir + "/results.md", [&](std::ostream& out) {
    out << "# SN study: " << rows.size() << " runs (" << diverged << " diverged)\n\n"
        << "Mean ± sample standard deviation over the seeds that did not diverge; the runs that diverged (NaN or\n"
        << "infinite losses) are counted in the cell. Lower MNIST-FID and KL are better, 10 modes is all digits.\n"
        << "Made by `sn_study` from " << dir << "/results.csv.\n\n"
        << table("MNIST-FID", &Cell::fid, 2) << table("Modes covered (of 10)", &Cell::modes, 1)
        << table("KL of the predicted classes from uniform", &Cell::kl, 3);
  });
  // study.png: FID per setting, one line per configuration, seed spread as error bars.
  if (!gnuplot_available()) return;
  write_file_atomically(dir + "/study.dat", [&](std::ostream& out) {
    for (const std::string& c : configs) {
      out << "# " << c << "\n";
      for (std::size_t i = 0; i < settings.size(); ++i) {
        const Cell& cell = cells[{c, settings[i]}];
        if (!cell.fid.empty()) out << i << " " << mean_of(cell.fid) << " " << spread_of(cell.fid) << "\n";
      }
      out << "\n\n";
    }
  });
  write_file_atomically(dir + "/study.gp", [&](std::ostream& s) {
    s << "set terminal png size 1000,600\nset output '" << dir << "/study.png.tmp'\nset key outside right\nset grid\n"
      << "set title 'MNIST-FID per optimiser setting (mean and spread over seeds; lower is better)'\n"
      << "set ylabel 'MNIST-FID'\nset xrange [-0.5:" << settings.size() - 0.5 << "]\nset xtics (";
    for (std::size_t i = 0; i < settings.size(); ++i) s << (i ? ", " : "") << "'" << settings[i] << "' " << i;
    s << ")\nplot ";
    for (std::size_t k = 0; k < configs.size(); ++k)
      s << (k ? ", " : "") << "'" << dir << "/study.dat' index " << k << " using ($1+" << (static_cast<double>(k) - configs.size() / 2.0) * 0.04
        << "):2:3 with yerrorlines title '" << configs[k] << "'";
    s << "\n";
  });
  render_gnuplot(dir + "/study.gp", dir + "/study.png");
  write_timelines(dir, rows);
}

}  // namespace sg::examples
