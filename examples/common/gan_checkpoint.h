#pragma once
// OUT/checkpoint.ckpt: everything a GAN run needs to continue exactly where it stopped
// (tests/gan_resume.sh and tests/gan_kill_resume.sh prove it byte for byte).
//
//   tensors  G.<name>, D.<name> (state dicts, SN buffers included), optG.<name>, optD.<name>
//   meta     epoch, iteration, z_rng (the noise), loader_rng (the shuffling), options
//            (GanOptions::identity(): a resumed run must have been started the same way)
#include <string>

#include "gan_metrics.h"
#include "gan_options.h"
#include "gan_state.h"
#include "io/mnist.h"

namespace sg::examples {

// A run's start. --resume: `gan` and the loader's shuffling from OUT/checkpoint.ckpt,
// and metrics.csv and lipschitz.csv cut back to it (the run rewrites what followed).
// Otherwise: a new metrics.csv, and no lipschitz.csv of an earlier run.
void start_or_resume(const GanOptions& options, GanState& gan, DataLoader& loader, MetricsCsv& metrics);

// Writes the checkpoint atomically: a run killed while saving keeps the previous one. In a
// data-parallel run every rank first checks that all replicas are bitwise identical, then
// rank 0 alone writes.
void save_gan_checkpoint(const std::string& path, const GanState& gan, const DataLoader& loader,
                         const std::string& identity);

// --resume: restores `gan` and the loader's shuffling from `path`. Refuses a file of
// another program, and one whose run had other settings than `identity` (naming them).
void load_gan_checkpoint(const std::string& path, GanState& gan, DataLoader& loader, const std::string& identity);

// --eval-only: G's weights alone.
void load_generator_weights(const std::string& path, Sequential& generator);

// "batch=32 (this run: 16), lr=0.0002 (this run: 0.1)": the settings of two identity()
// strings that differ, so a refused --resume says what to change.
std::string settings_difference(const std::string& saved, const std::string& current);

}  // namespace sg::examples
