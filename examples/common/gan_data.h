#pragma once
// The GAN's training and test images: MNIST, or "synthetic:N" blobs for smoke tests
// that must run without the MNIST files (tests/gan_resume.sh, tests/sn_study.sh).
#include <string>

#include "gan_options.h"
#include "io/mnist.h"

namespace sg::examples {

// `source` is an MNIST directory (scripts/fetch-mnist.sh) or "synthetic:N": N
// deterministic white discs on black, with random digit labels (the same N for both
// splits, but other discs).
MnistSplit load_gan_data(const std::string& source, bool train);

// The training split of --data in shuffled batches of --batch (shuffled with seed
// --seed + 1), whole batches only: a last, smaller batch is dropped. A --batch larger
// than the split is an error (not one batch to train on).
DataLoader gan_training_loader(const GanOptions& options);

}  // namespace sg::examples
