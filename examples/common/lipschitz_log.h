#pragma once
// The discriminator's Lipschitz report (tools/lipschitz.h) once per epoch: the table in
// OUT/lipschitz.txt, one row per epoch in OUT/lipschitz.csv (plotted in training.png).
#include <string>

#include "layers/sequential.h"
#include "tools/lipschitz.h"

namespace sg::examples {

// D's bounds after `epoch`, the empirical one on the first 64 of `test_images` (the
// same digits every epoch), into OUT/lipschitz.{csv,txt} and one log line.
void log_discriminator_lipschitz(const std::string& out_dir, int epoch, Sequential& discriminator,
                                 const Tensor& test_images, Device device);

// Writes a computed report: a row of lipschitz.csv (the header first) and lipschitz.txt.
void log_lipschitz(const std::string& out_dir, int epoch, const LipschitzReport& report);

// A new run starts without lipschitz.csv; a resumed one drops the rows after the
// checkpoint's epoch (it recomputes them).
void remove_lipschitz_log(const std::string& out_dir);
void truncate_lipschitz(const std::string& out_dir, int last_epoch);

}  // namespace sg::examples
