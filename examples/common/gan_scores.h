#pragma once
// How good is G? Its samples scored with the MNIST classifier's features (fid.h):
// MNIST-FID, modes covered, KL from uniform. The run prints them as one line, which the
// SN study reads back from each run's log; the line's writer and reader sit here together.
#include <memory>
#include <optional>
#include <string>

#include "classifier_model.h"
#include "fid.h"
#include "gan_options.h"
#include "gan_state.h"
#include "io/mnist.h"

namespace sg::examples {

struct GanScores {
  double fid = 0;
  ClassCoverage coverage;  // modes and KL (the histogram stays empty when read from a log)
};

// The scorer's weights from --classifier, read before any training so that a bad file
// fails at once; nullptr with --no-eval, or when there are none yet (score_gan() then
// trains one).
std::unique_ptr<MnistClassifier> load_scorer(const GanOptions& options);

// Scores --eval-samples samples of G (latent vectors from a fixed seed) against as many
// test images. Without a scorer it trains one for an epoch and saves it to --classifier.
GanScores score_gan(GanState& gan, const GanOptions& options, const MnistSplit& test,
                    std::unique_ptr<MnistClassifier> scorer);

// --dump-samples N FILE: N samples of G as float32 (N, 1, 28, 28) in FILE.npy, for
// scorers outside sigmagrad.
void dump_samples(GanState& gan, const GanOptions& options);

// "fid=12.345 modes=10 kl=0.0123": the scores line of the run's log.
std::string scores_line(const GanScores& scores);
// Whether a log has a scores line at all (runs with --no-eval, or that diverged, have none).
bool printed_scores(const std::string& log);
// The scores of a log's scores line; nullopt when there is none or it is damaged.
std::optional<GanScores> parse_scores_line(const std::string& log);

}  // namespace sg::examples
