#pragma once
// The SN study's pieces: the grid (settings x SN configurations x seeds), how one cell
// becomes an mnist_gan command line, its row in results.csv, and the report.
#include <set>
#include <string>
#include <vector>

namespace sg::examples {

struct StudyOptions {
  std::string model = "mlp", device = "cpu", data = "data/mnist", out = "out/sn_study";
  std::string classifier = "out/classifier/classifier.ckpt";
  std::string gan_program, classifier_program;  // next to sn_study
  int epochs = 2, jobs = 1;
  int64_t iters = 0, batch = 64, eval_samples = 10000, dump_samples = 0;
  double lr_scale = 1.0;  // multiplies every setting's learning rate (tests force a divergence with it)
  bool no_eval = false;
  std::string identity() const;  // what every run of one study directory must share
};

// The first start writes OUT/study.txt; a later one with other run settings is an error
// (its rows would mix with the old ones in results.csv).
void check_study_identity(const StudyOptions& o);

// An optimiser setting of Miyato et al. 2018, Table 1.
struct OptimiserSetting {
  std::string name;
  double lr, beta1, beta2;
  int n_dis;
};
const OptimiserSetting& optimiser_setting(const std::string& name);  // "A" .. "F", or an error

struct StudyRun {
  OptimiserSetting setting;
  std::string config;  // "none", "all", "layers:last", "clamp", "bsn", "adaptive", "balance", ...
  int64_t seed = 1;
  std::string id() const;  // "C-layers_last-s2": the run's directory name and results key
  std::string command(const StudyOptions& o, const std::string& dir) const;
};

std::vector<std::string> split_list(const std::string& text);  // "a,b,c"
// Every cell, in a fixed order; an unknown setting or configuration is an error.
std::vector<StudyRun> study_grid(const StudyOptions& o, const std::vector<std::string>& settings,
                                 const std::vector<std::string>& configs, const std::vector<std::string>& seeds);
// The mnist_gan arguments of an SN configuration.
std::string sn_arguments(const std::string& config);

struct StudyRow {
  std::string setting, config;
  int64_t seed = 0;
  int epochs = 0;
  bool diverged = false;
  double fid = 0, kl = 0, seconds = 0;
  int modes = 0;
  bool scored = false;  // false: diverged, or --no-eval
  std::string sn_on_fraction, final_sigma;  // "layer:value;..."
  std::string summary() const;
  std::string csv() const;
};
inline const char* kResultsHeader = "setting,sn,seed,epochs,diverged,fid,modes,kl,sn_on_fraction,final_sigma,seconds";

// The ids already in DIR/results.csv.
std::set<std::string> finished_runs(const std::string& dir);
// Reads a finished run's scores (its log) and SN statistics (its metrics.csv).
StudyRow collect_row(const StudyRun& run, const std::string& run_dir, bool diverged, double seconds);
// Adds the row to DIR/results.csv (written atomically, the header first).
void append_row(const std::string& dir, const StudyRow& row);
// DIR/results.md (mean and spread over seeds per setting x configuration, failures
// counted), and with gnuplot DIR/study.png and DIR/timelines.png.
void write_report(const std::string& dir);

}  // namespace sg::examples
