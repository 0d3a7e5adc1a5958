// What each spectral-normalisation estimator costs per training step, on the reference
// DCGAN discriminator's layers: one training-mode forward of the weight (refine the
// estimate, normalise) and the backward through it, median of R repetitions, next to
// the default power estimator in the same run.
//
//   build/bench/sn_estimators [--reps 20] [--threads N]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "core/parallel.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "timing.h"  // bench/: the shared timing loop

using namespace sg;

namespace {

struct Layer {
  const char* name;
  std::function<std::shared_ptr<Module>(Generator&)> make;
  Shape input;  // (1, C, H, W) of the layer in D, for the operator and certified estimators
  bool conv;
};

double median_ms(Module& layer, int reps) {
  Generator gen(7);
  Tensor upstream = randn(layer.raw_param("weight").shape(), gen);
  return bench::time_calls(2, reps, [&] {
           Tensor w = layer.param("weight");  // refine + normalise, as a forward does
           sum(mul(w, upstream)).backward();
           layer.raw_param("weight").zero_grad();
         }).median_ms;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Cost per step of each SN estimator on the reference DCGAN discriminator's layers"};
  int reps = 20, threads = 0;
  app.add_option("--reps", reps, "repetitions (median reported)")->check(CLI::Range(1, 100000));
  app.add_option("--threads", threads, "CPU threads (0: all cores)");
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) set_num_threads(threads);

  const Layer layers[] = {
      {"Conv2d(1, 64, 4, 2, 1) @28x28", [](Generator& g) { return std::make_shared<Conv2d>(1, 64, 4, 2, 1, true, g); }, {1, 1, 28, 28}, true},
      {"Conv2d(64, 128, 4, 2, 1) @14x14", [](Generator& g) { return std::make_shared<Conv2d>(64, 128, 4, 2, 1, true, g); }, {1, 64, 14, 14}, true},
      {"Linear(6272, 1)", [](Generator& g) { return std::make_shared<Linear>(6272, 1, true, g); }, {}, false},
  };
  const std::pair<const char*, SNEstimator> estimators[] = {
      {"power (1 it.)", SNEstimator::Power}, {"power-until (1e-6)", SNEstimator::PowerUntil},
      {"exact (SVD)", SNEstimator::Exact},   {"operator (1 it.)", SNEstimator::Operator},
      {"certified", SNEstimator::Certified}};
  std::printf("SN estimator cost per step (forward of the weight + backward), median of %d, ms; x = / power\n", reps);
  std::printf("%-34s", "layer");
  for (auto& [name, e] : estimators) std::printf(" | %-22s", name);
  std::printf("\n");
  for (const Layer& l : layers) {
    std::printf("%-34s", l.name);
    double power_ms = 0;
    for (auto& [name, estimator] : estimators) {
      if (!l.conv && (estimator == SNEstimator::Operator || estimator == SNEstimator::Certified)) {
        std::printf(" | %-22s", "n/a (not a conv)");
        continue;
      }
      Generator gen(1);
      std::shared_ptr<Module> layer = l.make(gen);
      spectral_norm(*layer, {.estimator = estimator, .operator_input_shape = l.input});
      const double ms = median_ms(*layer, reps);
      if (estimator == SNEstimator::Power) power_ms = ms;
      char cell[64];
      std::snprintf(cell, sizeof cell, "%.3f (%.1fx)", ms, ms / power_ms);
      std::printf(" | %-22s", cell);
    }
    std::printf("\n");
  }
  return 0;
}
