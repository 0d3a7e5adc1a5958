#pragma once
// What a GAN run reports while it trains: each iteration's numbers (StepMetrics), their
// rows in OUT/metrics.csv together with D's spectral-norm telemetry, the progress-bar
// text, and the exit code of a run that diverged. The SN study reads metrics.csv back
// through summarise_metrics(), so the file's writer and its reader sit here together.
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "layers/spectral_norm.h"

namespace sg::examples {

// mnist_gan's exit code when the losses became NaN or infinite: not an error of the
// program but a result (examples/sn_study records such runs as diverged).
inline constexpr int kGanDivergedExitCode = 3;

// One GAN iteration's numbers: the last D step's loss and mean logits, and G's loss.
struct StepMetrics {
  double loss_d = 0, loss_g = 0;
  double d_real = 0, d_fake = 0;  // D's mean logit on the real batch and on the generated one

  bool losses_finite() const;
  // By name, for sn_end_step(): the balance policy reads D's real/fake gap from the logits.
  std::map<std::string, double> by_name() const;
  // "D 0.712 G 1.304 D(x) 0.41 D(G(z)) -0.38": the progress bar's text.
  std::string progress_text() const;
};

// Prints why the run stops ("mnist_gan: diverged: non-finite loss ...") and returns
// kGanDivergedExitCode.
int report_divergence(const StepMetrics& metrics, int64_t iteration);

// The columns metrics.csv has per SN layer, named like sigma_2.weight.
inline constexpr const char* kSigmaColumn = "sigma_";      // sigma (the estimate)
inline constexpr const char* kAppliedColumn = "applied_";  // 1: W / sigma was applied this step

// OUT/metrics.csv: iteration, epoch, the StepMetrics, then per SN layer of D its sigma
// and whether SN was applied (with --sn-variant bsn each reshape's sigma, with
// --sn-topk the largest singular values). An empty path writes nothing (the ranks other
// than 0 of a data-parallel run).
class MetricsCsv {
 public:
  MetricsCsv(std::string path, std::vector<SNLayer> sn_layers);
  void start();                    // a new run: the header alone
  void resume(int64_t iteration);  // a resumed run: the rows up to `iteration` (it rewrites the rest)
  void append(int64_t iteration, int epoch, const StepMetrics& metrics);  // one row, flushed at once
  void close() { file_.close(); }

 private:
  std::string header() const;
  std::string row(int64_t iteration, int epoch, const StepMetrics& metrics) const;
  void open_for_appending() { file_.open(path_, std::ios::app); }

  std::string path_;
  std::vector<SNLayer> sn_layers_;
  std::ofstream file_;
};

// What the SN study keeps of a finished run's metrics.csv.
struct SnLayerSummary {
  std::string layer;                 // "2.weight"
  double applied_share = 0;          // of the rows, the share with SN applied
  std::string final_sigma = "nan";   // the last finite sigma, as written ("nan": none)
};
struct MetricsSummary {
  std::vector<SnLayerSummary> sn_layers;  // in the file's column order
  int last_epoch = 0;                     // the epoch of the last row (0: no rows)
};
MetricsSummary summarise_metrics(const std::string& path);

}  // namespace sg::examples
