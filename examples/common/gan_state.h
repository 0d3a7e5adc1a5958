#pragma once
// What a GAN run is at any moment: the two networks, their optimisers, the noise source
// and the count of steps. The lesson (examples/mnist_gan) builds and trains it; the
// checkpoint, the sample grids and the scores read it.
#include <cstdint>
#include <memory>

#include "core/device.h"
#include "core/generator.h"
#include "distributed_run.h"
#include "layers/sequential.h"
#include "optim/adam.h"

namespace sg::examples {

struct GanState {
  std::shared_ptr<Sequential> generator, discriminator;
  std::unique_ptr<Adam> generator_optimizer, discriminator_optimizer;
  // Several processes (one without mpirun): the job, and each network's gradient averager.
  DistributedRun run;
  std::unique_ptr<dist::GradientAverager> generator_gradients, discriminator_gradients;
  Device device;            // where both networks live
  Generator noise_rng;      // draws the latent vectors z of training
  int64_t latent_size = 0;  // the length of z
  int64_t iteration = 0;    // GAN iterations done (one G step each)
  int epochs_done = 0;      // the last finished epoch

  // The images G makes from latent vectors z (N, latent): eval mode (BatchNorm's
  // running statistics), no graph, returned on the CPU.
  Tensor sample(const Tensor& z);
};

}  // namespace sg::examples
