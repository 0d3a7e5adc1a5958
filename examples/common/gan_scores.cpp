#include "gan_scores.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <vector>

#include "classifier_train.h"
#include "cli.h"
#include "core/autograd.h"
#include "core/error.h"
#include "gan_data.h"
#include "io/npy.h"
#include "ops/ops.h"

namespace sg::examples {

namespace fs = std::filesystem;

namespace {

// Trains a classifier for an epoch and saves it to --classifier. Its Dropout keeps a
// pointer to the generator it was built with, so that one lives through the training.
std::unique_ptr<MnistClassifier> train_scorer(const GanOptions& o, const MnistSplit& test) {
  Generator init_rng(0);
  auto classifier = std::make_unique<MnistClassifier>(init_rng);
  std::printf("no classifier weights at %s: training one (1 epoch) for the scores\n", o.classifier.c_str());
  MnistSplit train = load_gan_data(o.data, true);
  train_classifier(*classifier, train, test, {.epochs = 1});
  fs::create_directories(fs::path(o.classifier).parent_path());
  save_classifier(*classifier, o.classifier);
  return classifier;
}

}  // namespace

std::unique_ptr<MnistClassifier> load_scorer(const GanOptions& o) {
  if (o.no_eval || !fs::exists(o.classifier)) return nullptr;
  Generator init_rng(0);  // its weights are overwritten by the file's
  auto classifier = std::make_unique<MnistClassifier>(init_rng);
  load_classifier(*classifier, o.classifier);
  return classifier;
}

GanScores score_gan(GanState& gan, const GanOptions& o, const MnistSplit& test, std::unique_ptr<MnistClassifier> scorer) {
  if (!scorer) scorer = train_scorer(o, test);
  MnistClassifier& classifier = *scorer;
  NoGradGuard no_grad;
  classifier.eval();
  Generator latent_rng(12345);
  std::vector<Tensor> fake_features, real_features;
  std::vector<int64_t> predicted;
  const int64_t chunk = 500;
  for (int64_t done = 0; done < o.eval_samples; done += chunk) {
    Tensor images = gan.sample(randn({std::min(chunk, o.eval_samples - done), gan.latent_size}, latent_rng));
    fake_features.push_back(classifier.features(images));
    std::vector<int64_t> p = max(classifier(images), 1).indices.to_vector<int64_t>();
    predicted.insert(predicted.end(), p.begin(), p.end());
  }
  int64_t n_real = std::min<int64_t>(test.images.shape()[0], o.eval_samples);
  for (int64_t done = 0; done < n_real; done += chunk)
    real_features.push_back(classifier.features(test.images.slice(0, done, std::min(done + chunk, n_real))));
  double fid = frechet_distance(feature_stats(cat(fake_features, 0)), feature_stats(cat(real_features, 0)));
  return {fid, class_coverage(predicted)};
}

void dump_samples(GanState& gan, const GanOptions& o) {
  const int64_t n = parse_integer(o.dump_samples[0], "--dump-samples N");
  SG_CHECK(n > 0, "--dump-samples: expected N > 0, got ", o.dump_samples[0]);
  Generator latent_rng(o.seed + 4);
  save_npy(o.dump_samples[1], gan.sample(randn({n, gan.latent_size}, latent_rng)));
  std::printf("wrote %lld samples to %s\n", static_cast<long long>(n), o.dump_samples[1].c_str());
}

std::string scores_line(const GanScores& s) {
  const char* format = "fid=%.3f modes=%d kl=%.4f";
  std::string line(static_cast<std::size_t>(std::snprintf(nullptr, 0, format, s.fid, s.coverage.modes, s.coverage.kl)), ' ');
  std::snprintf(line.data(), line.size() + 1, format, s.fid, s.coverage.modes, s.coverage.kl);
  return line;
}

bool printed_scores(const std::string& log) { return log.find("fid=") != std::string::npos; }

std::optional<GanScores> parse_scores_line(const std::string& log) {
  std::smatch m;
  if (!std::regex_search(log, m, std::regex(R"(fid=([-0-9.eE+naif]+) modes=(\d+) kl=([-0-9.eE+naif]+))")))
    return std::nullopt;
  GanScores scores;
  scores.fid = std::strtod(m[1].str().c_str(), nullptr);
  scores.coverage.modes = std::stoi(m[2].str());
  scores.coverage.kl = std::strtod(m[3].str().c_str(), nullptr);
  return scores;
}

}  // namespace sg::examples
