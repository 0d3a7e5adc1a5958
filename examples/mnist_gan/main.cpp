// The MNIST GAN: sigmagrad's main job. Trains the DCGAN (or the MLP-GAN) of
// docs/reference_models.md with optional spectral normalisation on D, writes sample
// grids, metrics.csv, a training plot and checkpoints, and scores the result with the
// MNIST classifier's features (MNIST-FID, modes covered, KL from uniform).
//
//   build/examples/mnist_gan --epochs 2 --out out/gan          (see --help)
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "../common/classifier_train.h"
#include "../common/cli.h"
#include "../common/fid.h"
#include "../common/png.h"
#include "../common/progress.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/npy.h"
#include "layers/spectral_norm.h"
#include "lipschitz_log.h"
#include "models.h"
#include "ops/ops.h"
#include "optim/adam.h"

using namespace sg;
using namespace sg::examples;
namespace fs = std::filesystem;

namespace {

constexpr int kDivergedExitCode = 3;  // a run whose losses became NaN or infinite
constexpr int64_t kBalanceMinSteps = 50;  // --sn balance: steps SN stays on at least

struct GanOptions {
  std::string model = "dcgan", sn = "all", sn_layers, sn_variant = "sn", loss = "hinge", device = "cpu";
  std::string data = "data/mnist", out = "out/gan", classifier = "out/classifier/classifier.ckpt", checkpoint;
  std::string sn_schedule = "every:2";
  int sn_iters = 1, epochs = 2, n_dis = 1, log_every = 10, sn_topk = 0, lipschitz_every = 1;
  int64_t batch = 64, iters = 0, eval_samples = 10000;
  double lr = 2e-4, sn_target = 1.0, sn_threshold = 1.5, sn_growth = 0.05, sn_gap_on = 2.0, sn_gap_off = 1.0;
  std::vector<double> betas{0.5, 0.999};
  uint64_t seed = 0;
  bool resume = false, eval_only = false, no_eval = false;
  std::vector<std::string> dump;  // N FILE

  // What a resumed run must share with the run that wrote the checkpoint.
  std::string identity() const {
    return str("model=", model, " sn=", sn, " sn_layers=", sn_layers, " sn_variant=", sn_variant, " sn_iters=", sn_iters,
               " sn_target=", sn_target, " loss=", loss, " batch=", batch, " n_dis=", n_dis, " seed=", seed,
               " lr=", lr, " iters=", iters, " data=", data, " sn_schedule=", sn_schedule, " sn_threshold=", sn_threshold,
               " sn_growth=", sn_growth, " sn_topk=", sn_topk, " sn_gap_on=", sn_gap_on, " sn_gap_off=", sn_gap_off, " betas=", betas.size() == 2 ? str(betas[0], ",", betas[1]) : "?");
  }
};

// ---- data -----------------------------------------------------------------------------
// "synthetic:N" makes N deterministic blob images (for smoke tests without MNIST).
MnistSplit load_data(const std::string& source, bool train) {
  if (source.rfind("synthetic:", 0) != 0) return load_mnist(source, train);
  int64_t n = parse_integer(source.substr(10), "--data synthetic:N");
  SG_CHECK(n > 0, "--data synthetic:N needs N > 0, got ", source);
  Generator gen(train ? 1 : 2);
  std::vector<double> pixels(static_cast<std::size_t>(n * 784), -1.0);
  std::vector<int64_t> labels(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    double cy = gen.uniform(8, 20), cx = gen.uniform(8, 20), r = gen.uniform(3, 7);
    labels[static_cast<std::size_t>(k)] = static_cast<int64_t>(gen.uniform() * 10) % 10;
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x)
        if ((y - cy) * (y - cy) + (x - cx) * (x - cx) < r * r) pixels[static_cast<std::size_t>(k * 784 + y * 28 + x)] = 1.0;
  }
  return {from_vector(pixels, {n, 1, 28, 28}), from_vector(labels, {n}, {DType::Int64})};
}

// ---- spectral normalisation from the command line -------------------------------------------
std::vector<int> parse_layers(const std::string& text, int count) {
  std::vector<int> out;
  if (text.empty() || text == "all" || text == "all-but-last") {
    for (int i = 0; i < count - (text == "all-but-last" ? 1 : 0); ++i) out.push_back(i);
    return out;
  }
  if (text == "last") return {count - 1};
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const int64_t k = parse_integer(item, "--sn-layers");
    SG_CHECK(k >= 0 && k < count, "--sn-layers: layer ", k, " does not exist (D has weight layers 0..", count - 1, ")");
    out.push_back(static_cast<int>(k));
  }
  return out;
}

std::shared_ptr<SNPolicy> parse_schedule(const std::string& text) {
  if (text.rfind("every:", 0) == 0) return sn_policy::every(parse_integer(text.substr(6), "--sn-schedule every:K"));
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto dash = item.find('-');
    SG_CHECK(dash != std::string::npos, "--sn-schedule: expected every:K or ranges like 0-500,1000-1500, got \"", text, "\"");
    ranges.emplace_back(parse_integer(item.substr(0, dash), "--sn-schedule"), parse_integer(item.substr(dash + 1), "--sn-schedule"));
  }
  return sn_policy::schedule(ranges);
}

void attach_spectral_norm(Sequential& d, const GanOptions& o) {
  if (o.sn == "none") return;  // the real baseline: no SN code runs at all
  std::vector<Module*> layers = weight_layers(d);
  for (int k : parse_layers(o.sn_layers, static_cast<int>(layers.size()))) {
    SpectralNormOptions sn{.power_iterations = o.sn_iters, .target = o.sn_target, .topk = o.sn_topk,
                           .seed = o.seed + 100 + static_cast<uint64_t>(k)};
    if (o.sn_variant == "bsn") {
      if (layers[static_cast<std::size_t>(k)]->raw_param("weight").dim() == 4) sn.variant = SNVariant::BSN;
    } else {
      SG_CHECK(o.sn_variant == "sn", "--sn-variant: expected sn or bsn, got \"", o.sn_variant, "\"");
    }
    if (o.sn == "all") sn.policy = sn_policy::always();
    else if (o.sn == "clamp") sn.variant = SNVariant::Clamp;
    else if (o.sn == "schedule") sn.policy = parse_schedule(o.sn_schedule);
    else if (o.sn == "adaptive") sn.policy = sn_policy::threshold(o.sn_threshold, o.sn_growth, 0.1);
    else if (o.sn == "log") sn.policy = sn_policy::log_only();
    else if (o.sn == "balance") sn.policy = sn_policy::balance(o.sn_gap_on, o.sn_gap_off, kBalanceMinSteps);
    else detail::throw_error("--sn: expected all, none, clamp, schedule, adaptive or log, got \"", o.sn, "\"");
    spectral_norm(*layers[static_cast<std::size_t>(k)], sn);
  }
}

// ---- the GAN ------------------------------------------------------------------------------------
struct Losses {
  Tensor d, g;
};

Tensor d_loss(const std::string& kind, const Tensor& real, const Tensor& fake) {
  if (kind == "hinge") return relu(1.0 - real).mean() + relu(1.0 + fake).mean();
  return binary_cross_entropy_with_logits(real, ones_like(real)) + binary_cross_entropy_with_logits(fake, zeros_like(fake));
}

Tensor g_loss(const std::string& kind, const Tensor& fake) {
  if (kind == "hinge") return -fake.mean();
  return binary_cross_entropy_with_logits(fake, ones_like(fake));
}

// "batch=32 (this run: 16), lr=0.0002 (this run: 0.1)": the settings of two identity()
// strings that differ, so a refused --resume says what to change.
std::string settings_difference(const std::string& saved, const std::string& current) {
  auto parse = [](const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    for (std::string item; in >> item;) {
      const auto eq = item.find('=');
      out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    }
    return out;
  };
  std::map<std::string, std::string> a = parse(saved), b = parse(current);
  std::string diff;
  for (const auto& [key, value] : a)
    if (!b.count(key) || b[key] != value)
      diff += str(diff.empty() ? "" : ", ", key, "=", value, " (this run: ", b.count(key) ? b[key] : "unset", ")");
  for (const auto& [key, value] : b)
    if (!a.count(key)) diff += str(diff.empty() ? "" : ", ", key, " unset (this run: ", value, ")");
  return diff;
}

struct Trainer {
  GanOptions o;
  Generator init_gen, z_gen;
  std::shared_ptr<Sequential> g, d;
  std::unique_ptr<Adam> opt_g, opt_d;
  std::vector<SNLayer> sn_layers;
  Tensor fixed_z;
  Device device;
  int64_t iteration = 0;
  int next_epoch = 1;

  explicit Trainer(const GanOptions& options)
      : o(options), init_gen(options.seed), z_gen(options.seed + 2) {
    SG_CHECK(o.model == "dcgan" || o.model == "mlp", "--model: expected dcgan or mlp, got \"", o.model, "\"");
    SG_CHECK(o.loss == "hinge" || o.loss == "bce", "--loss: expected hinge or bce, got \"", o.loss, "\"");
    SG_CHECK(o.device == "cpu" || o.device == "cuda", "--device: expected cpu or cuda, got \"", o.device, "\"");
    device = o.device == "cuda" ? Device::cuda() : Device::cpu();
    SG_CHECK(device.is_cpu() || device_available(DeviceType::CUDA), "--device cuda: no CUDA device is available "
             "(sigmagrad was built without CUDA, or no GPU was found)");
    SG_CHECK(o.betas.size() == 2, "--betas: expected two values, e.g. --betas 0.5 0.999");
    g = make_generator(o.model, init_gen);
    d = make_discriminator(o.model, init_gen);
    attach_spectral_norm(*d, o);
    sn_layers = spectral_norm_layers(*d);
    g->to(device);
    d->to(device);
    AdamOptions adam{.lr = o.lr, .beta1 = o.betas[0], .beta2 = o.betas[1]};
    opt_g = std::make_unique<Adam>(g->parameters(), adam);
    opt_d = std::make_unique<Adam>(d->parameters(), adam);
    Generator fixed(o.seed + 3);
    fixed_z = randn({64, kLatent}, fixed).to(device);
  }

  Tensor sample(const Tensor& z) {
    NoGradGuard no_grad;
    g->eval();
    Tensor images = g->forward(z.to(device));
    g->train();
    return images.to(Device::cpu());
  }

  // One iteration: n_dis D steps, then one G step.
  void step(DataLoader& loader, Tensor& real, Tensor& labels, double* metrics) {
    Tensor loss_d, d_real, d_fake;
    for (int k = 0; k < o.n_dis; ++k) {
      if (k > 0 && !loader.next(real, labels)) break;
      real = real.to(device);
      Tensor z = randn({real.shape()[0], kLatent}, z_gen).to(device);
      Tensor fake;
      {
        NoGradGuard no_grad;  // no gradient into G during the D step
        fake = g->forward(z);
      }
      d_real = d->forward(real);
      d_fake = d->forward(fake);
      loss_d = d_loss(o.loss, d_real, d_fake);
      opt_d->zero_grad();
      loss_d.backward();
      opt_d->step();
    }
    Tensor z = randn({real.shape()[0], kLatent}, z_gen).to(device);
    Tensor d_gen = d->forward(g->forward(z));  // D after its step, as the protocol says
    Tensor loss_g = g_loss(o.loss, d_gen);
    opt_g->zero_grad();
    loss_g.backward();
    opt_g->step();
    metrics[0] = loss_d.item();
    metrics[1] = loss_g.item();
    metrics[2] = d_real.mean().item();
    metrics[3] = d_fake.mean().item();
    // The mean logits too: the balance policy reads D's real/fake gap from them.
    sn_end_step(*d, {{"loss_d", metrics[0]}, {"loss_g", metrics[1]}, {"d_real", metrics[2]}, {"d_fake", metrics[3]}});
  }

  std::string csv_header() const {
    std::string h = "iteration,epoch,loss_d,loss_g,d_real,d_fake";
    for (const SNLayer& l : sn_layers) h += ",sigma_" + l.name;
    for (const SNLayer& l : sn_layers) h += ",applied_" + l.name;
    for (const SNLayer& l : sn_layers)  // BSN: each reshape's sigma (sigma is their mean)
      if (l.sn->options().variant == SNVariant::BSN) h += ",sigma1_" + l.name + ",sigma2_" + l.name;
    for (const SNLayer& l : sn_layers) {  // --sn-topk: the k largest singular values (k <= the matrix's rank)
      const std::string block = l.sn->options().param + "_topk_v";
      if (l.module->has_buffer(block))
        for (int64_t i = 1; i <= l.module->buffer(block).shape()[1]; ++i) h += str(",sv", i, "_", l.name);
    }
    return h;
  }

  std::string csv_row(int epoch, const double* m) const {
    std::string row = str(iteration, ",", epoch);
    char buf[32];
    for (int k = 0; k < 4; ++k) {
      std::snprintf(buf, sizeof buf, ",%.9g", m[k]);
      row += buf;
    }
    for (const SNLayer& l : sn_layers) {
      std::snprintf(buf, sizeof buf, ",%.9g", l.sn->telemetry().sigma);
      row += buf;
    }
    for (const SNLayer& l : sn_layers) row += l.sn->telemetry().applied ? ",1" : ",0";
    for (const SNLayer& l : sn_layers)
      if (l.sn->options().variant == SNVariant::BSN)
        for (double s : l.sn->telemetry().term_sigmas) {
          std::snprintf(buf, sizeof buf, ",%.9g", s);
          row += buf;
        }
    for (const SNLayer& l : sn_layers)
      for (double s : l.sn->telemetry().top_singular_values) {
        std::snprintf(buf, sizeof buf, ",%.9g", s);
        row += buf;
      }
    return row;
  }

  // ---- checkpoints ---------------------------------------------------------------------------
  void save(const std::string& path, int epoch, const DataLoader& loader) {
    Checkpoint c;
    for (auto& [k, t] : g->state_dict()) c.tensors["G." + k] = t;
    for (auto& [k, t] : d->state_dict()) c.tensors["D." + k] = t;
    for (auto& [k, t] : opt_g->state_dict()) c.tensors["optG." + k] = t;
    for (auto& [k, t] : opt_d->state_dict()) c.tensors["optD." + k] = t;
    c.meta["epoch"] = std::to_string(epoch);
    c.meta["iteration"] = std::to_string(iteration);
    c.meta["z_rng"] = z_gen.state();
    c.meta["loader_rng"] = loader.rng_state();
    c.meta["options"] = o.identity();
    save_checkpoint(path, c);
  }

  static std::map<std::string, Tensor> with_prefix(const Checkpoint& c, const std::string& prefix) {
    std::map<std::string, Tensor> out;
    for (auto& [k, t] : c.tensors)
      if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = t;
    return out;
  }

  void load_generator(const Checkpoint& c) { g->load_state_dict(with_prefix(c, "G.")); }

  void load(const std::string& path, DataLoader& loader) {
    Checkpoint c = load_checkpoint(path);
    for (const char* key : {"options", "iteration", "epoch", "z_rng", "loader_rng"})
      SG_CHECK(c.meta.count(key), "--resume: ", path, " is not a mnist_gan checkpoint (it has no '", key,
               "' entry; a classifier's or another program's?)");
    SG_CHECK(c.meta["options"] == o.identity(), "--resume: ", path, " was written by a run with other settings: ",
             settings_difference(c.meta["options"], o.identity()));
    load_generator(c);
    d->load_state_dict(with_prefix(c, "D."));
    opt_g->load_state_dict(with_prefix(c, "optG."));
    opt_d->load_state_dict(with_prefix(c, "optD."));
    z_gen.set_state(c.meta["z_rng"]);
    loader.set_rng_state(c.meta["loader_rng"]);
    iteration = parse_integer(c.meta["iteration"], path + ": the checkpoint's iteration");
    next_epoch = static_cast<int>(parse_integer(c.meta["epoch"], path + ": the checkpoint's epoch")) + 1;
  }
};

// Keeps the header and the rows up to `iteration` (a resumed run rewrites what follows).
// A run killed while writing a row leaves a partial last line: reading stops at the
// first row past the checkpoint or with fewer fields than the header, whichever is first.
void truncate_metrics(const std::string& path, int64_t iteration) {
  std::ifstream in(path);
  SG_CHECK(in.good(), "--resume: ", path, " is missing");
  std::vector<std::string> kept;
  std::string line;
  std::ptrdiff_t fields = 0;
  for (int64_t row = 1; std::getline(in, line); ++row) {
    if (kept.empty()) {
      fields = std::count(line.begin(), line.end(), ',');
    } else {
      if (std::count(line.begin(), line.end(), ',') != fields) break;
      const std::string first = line.substr(0, line.find(','));
      if (parse_integer(first, str("--resume: ", path, " line ", row, ": the iteration")) > iteration) break;
    }
    kept.push_back(line);
  }
  write_file_atomically(path, [&](std::ostream& out) {
    for (const std::string& l : kept) out << l << "\n";
  });
}

void plot_training(const std::string& out_dir, const Trainer& t) {
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    std::printf("gnuplot not found: skipped training.png (metrics.csv has the data)\n");
    return;
  }
  std::string script = out_dir + "/training.gp";
  const bool lipschitz = fs::exists(out_dir + "/lipschitz.csv");
  write_file_atomically(script, [&](std::ostream& s) {
    s << "set datafile separator ','\nset terminal png size 1000,700\nset output '" << out_dir << "/training.png.tmp'\n"
      << "set multiplot layout " << 1 + !t.sn_layers.empty() + lipschitz << ",1\nset key outside right\nset grid\n"
      << "set title 'losses'\nset xlabel 'iteration'\n"
      << "plot '" << out_dir << "/metrics.csv' using 1:3 with lines title 'loss D', '' using 1:4 with lines title 'loss G'\n";
    if (!t.sn_layers.empty()) {
      s << "set title 'spectral norm sigma of D layers (estimate)'\nplot ";
      for (std::size_t k = 0; k < t.sn_layers.size(); ++k)
        s << (k ? ", " : "") << "'" << out_dir << "/metrics.csv' using 1:" << 7 + k << " with lines title '"
          << t.sn_layers[k].name << "'";
      s << "\n";
    }
    if (lipschitz)
      s << "set title 'D Lipschitz constant: certified upper bound and empirical lower bound'\nset xlabel 'epoch'\n"
        << "plot '" << out_dir << "/lipschitz.csv' using 1:2 with linespoints title 'certified (upper)', '' using 1:3 "
        << "with linespoints title 'empirical (lower)'\n";
    s << "unset multiplot\n";
  });
  if (std::system(("gnuplot '" + script + "' 2>/dev/null").c_str()) == 0)
    fs::rename(out_dir + "/training.png.tmp", out_dir + "/training.png");
}

struct Scores {
  double fid;
  ClassCoverage coverage;
};

// The scorer's weights, read before any training so that a bad --classifier file fails
// at once; nullptr when there are none yet (evaluate() then trains one).
std::unique_ptr<MnistClassifier> load_scorer(const GanOptions& o) {
  if (o.no_eval || !fs::exists(o.classifier)) return nullptr;
  Generator class_gen(0);
  auto classifier = std::make_unique<MnistClassifier>(class_gen);
  load_classifier(*classifier, o.classifier);
  return classifier;
}

Scores evaluate(Trainer& t, const GanOptions& o, const MnistSplit& test, std::unique_ptr<MnistClassifier> scorer) {
  if (!scorer) {
    Generator class_gen(0);
    scorer = std::make_unique<MnistClassifier>(class_gen);
    MnistClassifier& classifier = *scorer;
    std::printf("no classifier weights at %s: training one (1 epoch) for the scores\n", o.classifier.c_str());
    MnistSplit train = load_data(o.data, true);
    train_classifier(classifier, train, test, {.epochs = 1});
    fs::create_directories(fs::path(o.classifier).parent_path());
    save_classifier(classifier, o.classifier);
  }
  MnistClassifier& classifier = *scorer;
  NoGradGuard no_grad;
  classifier.eval();
  Generator eval_gen(12345);
  std::vector<Tensor> fake_features, real_features;
  std::vector<int64_t> predicted;
  const int64_t chunk = 500;
  for (int64_t done = 0; done < o.eval_samples; done += chunk) {
    Tensor images = t.sample(randn({std::min(chunk, o.eval_samples - done), kLatent}, eval_gen));
    Tensor f = classifier.features(images);
    fake_features.push_back(f);
    std::vector<int64_t> p = max(classifier(images), 1).indices.to_vector<int64_t>();
    predicted.insert(predicted.end(), p.begin(), p.end());
  }
  int64_t n_real = std::min<int64_t>(test.images.shape()[0], o.eval_samples);
  for (int64_t done = 0; done < n_real; done += chunk)
    real_features.push_back(classifier.features(test.images.slice(0, done, std::min(done + chunk, n_real))));
  double fid = frechet_distance(feature_stats(cat(fake_features, 0)), feature_stats(cat(real_features, 0)));
  return {fid, class_coverage(predicted)};
}

}  // namespace

int main(int argc, char** argv) {
  GanOptions o;
  CLI::App app{"Train a GAN on MNIST with sigmagrad, with optional spectral normalisation on D"};
  app.add_option("--model", o.model, "dcgan or mlp")->check(CLI::IsMember({"dcgan", "mlp"}));
  app.add_option("--sn", o.sn, "spectral norm on D: all (default: best supported by the SN study, README), none, clamp, "
                 "schedule, adaptive, log, balance")
      ->check(CLI::IsMember({"all", "none", "clamp", "schedule", "adaptive", "log", "balance"}));
  app.add_option("--sn-layers", o.sn_layers, "D weight layers to normalise: 0,1,2, last or all-but-last (default: all)");
  app.add_option("--sn-iters", o.sn_iters, "power iterations per update")->check(positive());
  app.add_option("--sn-topk", o.sn_topk, "track the K largest singular values of each SN layer (metrics.csv)")
      ->check(non_negative());
  app.add_option("--lipschitz-every", o.lipschitz_every, "epochs between D's Lipschitz reports (0: none)")
      ->check(non_negative());
  app.add_option("--sn-variant", o.sn_variant, "sn or bsn (bsn: conv layers)")->check(CLI::IsMember({"sn", "bsn"}));
  app.add_option("--sn-target", o.sn_target, "target coefficient c (c W / sigma; clamp threshold)")->check(positive());
  app.add_option("--sn-schedule", o.sn_schedule, "for --sn schedule: every:K or ranges 0-500,1000-1500");
  app.add_option("--sn-threshold", o.sn_threshold, "for --sn adaptive: normalise while sigma exceeds this");
  app.add_option("--sn-growth", o.sn_growth, "for --sn adaptive: ... or while sigma grows faster than this per step");
  app.add_option("--sn-gap-on", o.sn_gap_on, "for --sn balance: on when D's mean real minus fake logit exceeds this");
  app.add_option("--sn-gap-off", o.sn_gap_off, "for --sn balance: off again below this (after 50 steps on)");
  app.add_option("--loss", o.loss, "hinge or bce")->check(CLI::IsMember({"hinge", "bce"}));
  app.add_option("--epochs", o.epochs, "epochs to train (in total, when resuming)")->check(non_negative());
  app.add_option("--iters", o.iters, "cap on iterations per epoch (0: a full pass over the data)")->check(non_negative());
  app.add_option("--batch", o.batch, "batch size")->check(positive());
  app.add_option("--lr", o.lr, "Adam learning rate for G and D")->check(positive());
  app.add_option("--betas", o.betas, "Adam betas")->expected(2);
  app.add_option("--n-dis", o.n_dis, "D steps per G step")->check(positive());
  app.add_option("--seed", o.seed, "random seed");
  app.add_option("--device", o.device, "cpu (cuda when built with the CUDA backend)");
  app.add_option("--data", o.data, "MNIST directory (scripts/fetch-mnist.sh), or synthetic:N for a smoke test");
  app.add_option("--out", o.out, "output directory");
  app.add_option("--log-every", o.log_every, "iterations between metrics.csv rows")->check(positive());
  app.add_flag("--resume", o.resume, "continue from OUT/checkpoint.ckpt");
  app.add_option("--classifier", o.classifier, "classifier weights for the scores (trained if missing)");
  app.add_flag("--eval-only", o.eval_only, "only score a checkpoint (--checkpoint FILE)");
  app.add_option("--checkpoint", o.checkpoint, "checkpoint to score with --eval-only");
  app.add_option("--eval-samples", o.eval_samples, "samples scored at the end")->check(positive());
  app.add_flag("--no-eval", o.no_eval, "skip the final scores");
  app.add_option("--dump-samples", o.dump, "N FILE.npy: write N samples as float32 (N,1,28,28)")->expected(2);
  CLI11_PARSE(app, argc, argv);

  return run_main("mnist_gan", [&] {
    ensure_writable_dir(o.out, "--out");
    Trainer t(o);
    std::unique_ptr<MnistClassifier> scorer = load_scorer(o);
    MnistSplit test = load_data(o.data, false);

    if (o.eval_only) {
      SG_CHECK(!o.checkpoint.empty(), "--eval-only needs --checkpoint FILE");
      t.load_generator(load_checkpoint(o.checkpoint));
    } else {
      MnistSplit train = load_data(o.data, true);
      SG_CHECK(o.batch <= train.images.shape()[0], "--batch ", o.batch, " is larger than the training set (",
               train.images.shape()[0], " images from ", o.data, "): not one full batch to train on");
      DataLoader loader(train.images, train.labels, o.batch, true, o.seed + 1, /*drop_last=*/true);
      const std::string metrics_path = o.out + "/metrics.csv", checkpoint_path = o.out + "/checkpoint.ckpt";
      if (o.resume) {
        t.load(checkpoint_path, loader);
        truncate_metrics(metrics_path, t.iteration);
        truncate_lipschitz(o.out, t.next_epoch - 1);
        std::printf("resumed from %s at epoch %d, iteration %lld\n", checkpoint_path.c_str(), t.next_epoch - 1,
                    static_cast<long long>(t.iteration));
      } else {
        write_file_atomically(metrics_path, [&](std::ostream& out) { out << t.csv_header() << "\n"; });
        fs::remove(o.out + "/lipschitz.csv");
      }
      std::ofstream metrics(metrics_path, std::ios::app);
      std::cout << "G: " << *t.g << "D: " << *t.d;
      const int64_t per_epoch = o.iters > 0 ? std::min(o.iters, loader.batches_per_epoch()) : loader.batches_per_epoch();
      for (int epoch = t.next_epoch; epoch <= o.epochs; ++epoch) {
        loader.start_epoch();
        ProgressBar bar(str("epoch ", epoch, "/", o.epochs), per_epoch);
        Tensor real, labels;
        double m[4] = {0, 0, 0, 0};
        for (int64_t k = 0; k < per_epoch && loader.next(real, labels); ++k) {
          t.step(loader, real, labels, m);
          if (!std::isfinite(m[0]) || !std::isfinite(m[1])) {
            // Not an error of the program: the run diverged. Exit code 3 says so to callers
            // (examples/sn_study records such runs as diverged).
            ++t.iteration;
            metrics << t.csv_row(epoch, m) << "\n" << std::flush;
            std::fprintf(stderr, "mnist_gan: diverged: non-finite loss (D %g, G %g) at iteration %lld\n", m[0], m[1],
                         static_cast<long long>(t.iteration));
            return kDivergedExitCode;
          }
          ++t.iteration;
          if (t.iteration % o.log_every == 0) metrics << t.csv_row(epoch, m) << "\n" << std::flush;
          char line[96];
          std::snprintf(line, sizeof line, "D %.3f G %.3f D(x) %.2f D(G(z)) %.2f", m[0], m[1], m[2], m[3]);
          bar.update(k + 1, line);
        }
        std::printf("epoch %d: %.1f s (%.2f s/iteration)\n", epoch, bar.seconds(), bar.seconds() / per_epoch);
        char name[64];
        std::snprintf(name, sizeof name, "/samples_epoch_%03d.png", epoch);
        Tensor grid = t.sample(t.fixed_z);
        write_png_grid(o.out + name, grid);
        write_png_grid(o.out + "/samples.png", grid);
        if (o.lipschitz_every > 0 && epoch % o.lipschitz_every == 0) {
          // D's bounds on the first 64 test digits (the same ones every epoch).
          const int64_t n = std::min<int64_t>(64, test.images.shape()[0]);
          log_lipschitz(o.out, epoch, lipschitz_report(*t.d, {1, 1, 28, 28}, test.images.slice(0, 0, n).to(t.device)));
        }
        t.save(checkpoint_path, epoch, loader);
        std::fflush(stdout);
      }
      metrics.close();
      plot_training(o.out, t);
    }

    if (o.dump.size() == 2) {
      const int64_t n = parse_integer(o.dump[0], "--dump-samples N");
      SG_CHECK(n > 0, "--dump-samples: expected N > 0, got ", o.dump[0]);
      Generator dump_gen(o.seed + 4);
      save_npy(o.dump[1], t.sample(randn({n, kLatent}, dump_gen)));
      std::printf("wrote %lld samples to %s\n", static_cast<long long>(n), o.dump[1].c_str());
    }
    std::printf("outputs in %s: samples.png, samples_epoch_NNN.png, metrics.csv, training.png, checkpoint.ckpt\n",
                o.out.c_str());
    if (!o.no_eval) {
      Scores s = evaluate(t, o, test, std::move(scorer));
      std::printf("fid=%.3f modes=%d kl=%.4f\n", s.fid, s.coverage.modes, s.coverage.kl);
    }
    return 0;
  });
}
