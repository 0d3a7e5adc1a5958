#pragma once
// Spectral normalisation on the GAN's discriminator, as the --sn* flags ask for it
// (docs/spectral_norm.md, section 6, maps every flag to its SpectralNormOptions).
#include <cstdint>
#include <vector>

#include "gan_options.h"
#include "layers/module.h"

namespace sg::examples {

// --sn balance: the steps SN stays on at least, once switched on.
inline constexpr int64_t kBalanceMinSteps = 50;

// Attaches SN to those of D's weight layers (weight_layers() in mnist_gan/models.h)
// that --sn-layers names, with the policy of --sn and the seed of --seed. --sn none
// attaches nothing: the real baseline, with no SN code running at all.
void attach_spectral_norm(const std::vector<Module*>& weight_layers, const GanOptions& options);

}  // namespace sg::examples
