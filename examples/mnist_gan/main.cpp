// The MNIST GAN: sigmagrad's main job, as a lesson. Two networks play a game: the
// discriminator D learns to tell real digits from generated ones, and the generator G
// learns to fool it. Every iteration (1) updates D on a real and a generated batch, then
// (2) updates G through D, as PyTorch's dcgan example does. Spectral normalisation (SN)
// on D bounds how steep D can get, so that G keeps getting useful gradients
// (docs/spectral_norm.md). The networks are those of docs/reference_models.md (models.h).
//
// Everything around the loop is in examples/common, shared with the SN study: the flags
// (gan_options), SN from the flags (gan_spectral_norm), metrics.csv (gan_metrics),
// checkpoints (gan_checkpoint), pictures (gan_plots), D's Lipschitz bounds
// (lipschitz_log), the scores (gan_scores) and the step as one CUDA graph, --cuda-graph
// (gan_recorded_step).
//
// On several processes (docs/distributed.md) each rank trains a replica on its slice of
// every batch, and the lines marked [data parallel] keep the replicas identical:
//   mpirun -np 2 build/examples/mnist_gan --model mlp --out out/gan2
//
//   build/examples/mnist_gan --epochs 2 --out out/gan          (see --help)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "../common/cli.h"
#include "../common/gan_checkpoint.h"
#include "../common/gan_data.h"
#include "../common/gan_metrics.h"
#include "../common/gan_options.h"
#include "../common/gan_plots.h"
#include "../common/gan_recorded_step.h"
#include "../common/gan_scores.h"
#include "../common/gan_spectral_norm.h"
#include "../common/lipschitz_log.h"
#include "../common/progress.h"
#include "models.h"
#include "ops/ops.h"

using namespace sg;
using namespace sg::examples;

namespace {

// The game's losses, on D's logits. Hinge: D wants real logits above +1 and generated
// ones below -1, G wants D's logits on its images high. BCE: the original GAN's
// log-loss, with the non-saturating G loss (G maximises log D(G(z))).
Tensor discriminator_loss(const std::string& kind, const Tensor& real_logits, const Tensor& fake_logits) {
  if (kind == "hinge") return relu(1.0 - real_logits).mean() + relu(1.0 + fake_logits).mean();
  return binary_cross_entropy_with_logits(real_logits, ones_like(real_logits)) +
         binary_cross_entropy_with_logits(fake_logits, zeros_like(fake_logits));
}

Tensor generator_loss(const std::string& kind, const Tensor& fake_logits) {
  if (kind == "hinge") return -fake_logits.mean();
  return binary_cross_entropy_with_logits(fake_logits, ones_like(fake_logits));
}

// G and D, each with its own Adam. SN goes on D before its optimiser takes D's parameters.
GanState build_gan(const GanOptions& o, DistributedRun run) {
  GanState gan{.device = o.checked_device(), .noise_rng = Generator(o.seed + 2), .latent_size = kLatent};
  Generator init_rng(o.seed);  // both networks' initial weights
  gan.generator = make_generator(o.model, init_rng);
  gan.discriminator = make_discriminator(o.model, init_rng);
  attach_spectral_norm(weight_layers(*gan.discriminator), o);
  gan.generator->to(gan.device);
  gan.discriminator->to(gan.device);
  gan.run = std::move(run);  // [data parallel] replicas: global batch norm, rank 0's weights
  SG_CHECK(!o.cuda_graph || gan.run.world_size() == 1, "--cuda-graph: expected one process, got ",
           gan.run.world_size(), " ranks (the collectives are not recorded)");
  gan.generator_gradients = make_replica(gan.run, *gan.generator);
  gan.discriminator_gradients = make_replica(gan.run, *gan.discriminator);
  AdamOptions adam{.lr = o.lr, .beta1 = o.betas[0], .beta2 = o.betas[1]};
  gan.generator_optimizer = std::make_unique<Adam>(gan.generator->parameters(), adam);
  gan.discriminator_optimizer = std::make_unique<Adam>(gan.discriminator->parameters(), adam);
  return gan;
}

// A batch of latent vectors z ~ N(0, I), one per image of the global batch `like`, and
// this rank's slice of it [data parallel]: the noise does not depend on the number of ranks.
Tensor noise_like(GanState& gan, const Tensor& like) {
  return gan.run.local_slice(randn({like.shape()[0], gan.latent_size}, gan.noise_rng)).to(gan.device);
}

// (1) One D update: logits up on real digits, down on G's images made from z.
struct DiscriminatorUpdate {
  Tensor loss, real_logits, fake_logits;
};
DiscriminatorUpdate update_discriminator(GanState& gan, const GanOptions& o, const Tensor& local_real, const Tensor& z) {
  Tensor fake;
  {
    NoGradGuard no_grad;  // G only supplies D's inputs here: no graph into G
    fake = gan.generator->forward(z);
  }
  DiscriminatorUpdate d{Tensor(), gan.discriminator->forward(local_real), gan.discriminator->forward(fake)};
  d.loss = discriminator_loss(o.loss, d.real_logits, d.fake_logits);
  gan.discriminator_optimizer->zero_grad();
  d.loss.backward();
  gan.discriminator_gradients->average_gradients();  // [data parallel] the global batch's gradient
  gan.discriminator_optimizer->step();
  return d;
}

// (2) One G update: D's logits up on G's images, through D as just updated (the reference protocol).
Tensor update_generator(GanState& gan, const GanOptions& o, const Tensor& z) {
  Tensor loss_g = generator_loss(o.loss, gan.discriminator->forward(gan.generator->forward(z)));
  gan.generator_optimizer->zero_grad();
  loss_g.backward_into(gan.generator->parameters());  // D's weight gradients would go unused: not computed
  gan.generator_gradients->average_gradients();  // [data parallel]
  gan.generator_optimizer->step();
  return loss_g;
}

// The iteration's four numbers, the same on every rank, then SN's end of step.
StepMetrics finish_step(GanState& gan, const std::vector<double>& numbers) {
  // [data parallel] the global batch's means, so that every rank's SN policy decides alike
  const std::vector<double> means = gan.run.mean_over_ranks(numbers);
  StepMetrics metrics{means[0], means[1], means[2], means[3]};
  sn_end_step(*gan.discriminator, metrics.by_name());  // SN's telemetry, and its policy decides
  return metrics;
}

// One GAN iteration. `real` holds a batch; with --n-dis K, D's later steps take theirs
// from the loader (and the iteration ends its D steps early if the epoch runs dry).
StepMetrics train_step(GanState& gan, const GanOptions& o, DataLoader& loader, Tensor& real, Tensor& labels) {
  DiscriminatorUpdate d;
  for (int k = 0; k < o.n_dis; ++k) {
    if (k > 0 && !loader.next(real, labels)) break;
    Tensor z = noise_like(gan, real);
    d = update_discriminator(gan, o, gan.run.local_slice(real).to(gan.device), z);  // [data parallel] this rank's rows
  }
  Tensor loss_g = update_generator(gan, o, noise_like(gan, real));
  return finish_step(gan, {d.loss.item(), loss_g.item(), d.real_logits.mean().item(), d.fake_logits.mean().item()});
}

// --cuda-graph: the same iteration recorded once and replayed (gan_recorded_step.h), on
// noise drawn in the plain step's order.
StepMetrics recorded_train_step(GanState& gan, RecordedIteration& recorded, const Tensor& real) {
  Tensor z_d = noise_like(gan, real), z_g = noise_like(gan, real);
  return finish_step(gan, recorded.run(gan.run.local_slice(real), z_d, z_g));
}

// Trains to --epochs (from the checkpoint with --resume); returns the exit code.
int train(GanState& gan, const GanOptions& o, const MnistSplit& test) {
  DataLoader loader = gan_training_loader(o);  // the global batches, the same on every rank
  const bool writes = gan.run.is_root();       // [data parallel] rank 0 alone writes files
  MetricsCsv metrics_csv(writes ? o.out + "/metrics.csv" : "", spectral_norm_layers(*gan.discriminator));
  start_or_resume(o, gan, loader, metrics_csv);
  std::cout << "G: " << *gan.generator << "D: " << *gan.discriminator;
  Generator grid_rng(o.seed + 3);  // the sample grids show the same z every epoch
  const Tensor grid_z = randn({64, gan.latent_size}, grid_rng);
  // --cuda-graph: the iteration's device work, recorded once (gan_recorded_step.h)
  RecordedIteration recorded(gan.device, [&](const Tensor& local_real, const Tensor& z_d, const Tensor& z_g) {
    DiscriminatorUpdate d = update_discriminator(gan, o, local_real, z_d);
    Tensor loss_g = update_generator(gan, o, z_g);
    return std::vector<Tensor>{d.loss, loss_g, d.real_logits.mean(), d.fake_logits.mean()};
  });
  const int64_t per_epoch = o.iters > 0 ? std::min(o.iters, loader.batches_per_epoch()) : loader.batches_per_epoch();
  for (int epoch = gan.epochs_done + 1; epoch <= o.epochs; ++epoch) {
    loader.start_epoch();
    ProgressBar bar(str("epoch ", epoch, "/", o.epochs), per_epoch);
    Tensor real, labels;
    for (int64_t k = 0; k < per_epoch && loader.next(real, labels); ++k) {
      const StepMetrics metrics =
          o.cuda_graph ? recorded_train_step(gan, recorded, real) : train_step(gan, o, loader, real, labels);
      ++gan.iteration;
      const bool diverged = !metrics.losses_finite();  // then the row is kept whatever --log-every says
      if (diverged || gan.iteration % o.log_every == 0) metrics_csv.append(gan.iteration, epoch, metrics);
      if (diverged) return report_divergence(metrics, gan.iteration);
      bar.update(k + 1, metrics.progress_text());
    }
    std::printf("epoch %d: %.1f s (%.2f s/iteration)\n", epoch, bar.seconds(), bar.seconds() / per_epoch);
    if (writes) write_sample_grids(o.out, epoch, gan.sample(grid_z));
    if (writes && o.lipschitz_every > 0 && epoch % o.lipschitz_every == 0)
      log_discriminator_lipschitz(o.out, epoch, *gan.discriminator, test.images, gan.device);
    gan.epochs_done = epoch;
    save_gan_checkpoint(o.out + "/checkpoint.ckpt", gan, loader, o.identity());
    std::fflush(stdout);  // only now: a logged "epoch N:" line promises checkpoint N is on disk
  }
  metrics_csv.close();
  if (o.cuda_graph)
    std::printf("--cuda-graph: %lld iterations through the recorded step (%s)\n",
                static_cast<long long>(recorded.runs()),
                recorded.replays_a_graph() ? "one CUDA graph, replayed" : "no graph here: run again under its checks");
  if (writes) plot_training(o.out, spectral_norm_layers(*gan.discriminator));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  GanOptions options;
  CLI::App app{"Train a GAN on MNIST with sigmagrad, with optional spectral normalisation on D"};
  add_gan_options(app, options);
  CLI11_PARSE(app, argc, argv);

  return run_main("mnist_gan", [&] {
    ensure_writable_dir(options.out, "--out");
    GanState gan = build_gan(options, start_distributed_run(options.device, options.batch, options.identity()));
    std::unique_ptr<MnistClassifier> scorer = load_scorer(options);  // a bad file fails before training
    const MnistSplit test = load_gan_data(options.data, false);
    if (options.eval_only) {
      SG_CHECK(!options.checkpoint.empty(), "--eval-only needs --checkpoint FILE");
      load_generator_weights(options.checkpoint, *gan.generator);
    } else if (const int code = train(gan, options, test); code != 0) {
      return code;
    }
    if (!gan.run.is_root()) return 0;  // [data parallel] rank 0 samples and scores
    if (options.dump_samples.size() == 2) dump_samples(gan, options);
    std::printf("outputs in %s: samples.png, samples_epoch_NNN.png, metrics.csv, training.png, checkpoint.ckpt\n",
                options.out.c_str());
    if (!options.no_eval) std::printf("%s\n", scores_line(score_gan(gan, options, test, std::move(scorer))).c_str());
    return 0;
  });
}
