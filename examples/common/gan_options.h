#pragma once
// The MNIST GAN's settings: every command-line flag of examples/mnist_gan, its default,
// and which of them a resumed run must share with the run that wrote the checkpoint.
#include <cstdint>
#include <string>
#include <vector>

#include "core/device.h"

// Declared only: CLI11 is a large header, and most files that include this one never
// parse a command line (the mains and the .cpp include <CLI/CLI.hpp> themselves).
namespace CLI {
class App;
}  // namespace CLI

namespace sg::examples {

struct GanOptions {
  std::string model = "dcgan", sn = "all", sn_layers, sn_variant = "sn", loss = "hinge", device = "cpu";
  std::string data = "data/mnist", out = "out/gan", classifier = "out/classifier/classifier.ckpt", checkpoint;
  std::string sn_schedule = "every:2";
  int sn_iters = 1, epochs = 2, n_dis = 1, log_every = 10, sn_topk = 0, lipschitz_every = 1;
  int64_t batch = 64, iters = 0, eval_samples = 10000;
  double lr = 2e-4, sn_target = 1.0, sn_threshold = 1.5, sn_growth = 0.05, sn_gap_on = 2.0, sn_gap_off = 1.0;
  std::vector<double> betas{0.5, 0.999};
  uint64_t seed = 0;
  bool resume = false, eval_only = false, no_eval = false, cuda_graph = false;
  std::vector<std::string> dump_samples;  // N FILE

  // What a resumed run must share with the run that wrote the checkpoint, as
  // "key=value" words (checkpoints store it; settings_difference() compares two).
  std::string identity() const;
  // Checks what the flags' own validators cannot, and returns the device to train on.
  Device checked_device() const;
};

// Declares every flag of mnist_gan on `app`, writing into `options`.
void add_gan_options(CLI::App& app, GanOptions& options);

}  // namespace sg::examples
