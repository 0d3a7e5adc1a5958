#pragma once
// The GAN run's pictures: sample grids after every epoch, and training.png (losses, SN
// sigmas, Lipschitz bounds) through gnuplot when it is installed. The gnuplot helpers
// also draw the SN study's figures.
#include <string>
#include <vector>

#include "core/tensor.h"
#include "layers/spectral_norm.h"

namespace sg::examples {

// OUT/samples_epoch_NNN.png and OUT/samples.png (the latest): the same latent vectors
// every epoch, so the grids show one G learning.
void write_sample_grids(const std::string& out_dir, int epoch, const Tensor& images);

// OUT/training.png from metrics.csv (and lipschitz.csv when there is one); without
// gnuplot a line says so and the data stays in the CSV files.
void plot_training(const std::string& out_dir, const std::vector<SNLayer>& sn_layers);

bool gnuplot_available();
// Runs gnuplot on `script`, whose `set output` names PNG.tmp, and renames PNG.tmp to
// `png` when it succeeded: a failed plot never leaves a half-drawn picture.
void render_gnuplot(const std::string& script, const std::string& png);

}  // namespace sg::examples
