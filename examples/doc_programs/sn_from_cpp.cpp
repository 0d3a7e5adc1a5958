// docs/spectral_norm.md section 7, "Using SN from C++": this file is the program shown
// there, and build/examples/sn_from_cpp prints the output the page shows.
#include <cstdio>

#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "ops/ops.h"
#include "optim/adam.h"

using namespace sg;

int main() {
  Generator gen(0);
  auto d = std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
      std::make_shared<Conv2d>(1, 64, 4, 2, 1, true, gen), std::make_shared<LeakyReLU>(0.2),
      std::make_shared<Conv2d>(64, 128, 4, 2, 1, true, gen), std::make_shared<LeakyReLU>(0.2),
      std::make_shared<Flatten>(), std::make_shared<Linear>(128 * 7 * 7, 1, true, gen)});

  // 1. Attach: before building the optimiser (so that it sees a learned gain, if any).
  spectral_norm(*d->at<Conv2d>(0));                                  // Plain, 1 power iteration
  spectral_norm(*d->at<Conv2d>(2), {.variant = SNVariant::BSN});     // two reshapes of the kernel
  auto head = spectral_norm(*d->at<Linear>(5), {
      .policy = sn_policy::custom([](const SNTelemetry& t) {        // a policy of your own
        auto it = t.losses.find("loss_d");                          // (also called once at attach,
        return it == t.losses.end() || it->second < 1.5;            //  with empty telemetry)
      }, "custom: while loss_d < 1.5")});
  Adam opt(d->parameters(), {.lr = 2e-4, .beta1 = 0.5});

  // 2. Train: one sn_end_step per optimiser step.
  for (int step = 0; step < 3; ++step) {
    Tensor real = randn({16, 1, 28, 28}, gen), fake = randn({16, 1, 28, 28}, gen);
    Tensor loss = relu(1.0 - d->forward(real)).mean() + relu(1.0 + d->forward(fake)).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
    sn_end_step(*d, {{"loss_d", loss.item()}});

    // 3. Telemetry.
    for (const SNLayer& l : spectral_norm_layers(*d)) {
      const SNTelemetry& t = l.sn->telemetry();
      std::printf("step %lld %s: sigma %.4f (change %+.2e, residual %.1e) %s, next step %s\n",
                  static_cast<long long>(t.step), l.name.c_str(), t.sigma, t.sigma_change, t.residual,
                  t.applied ? "normalised" : "plain", l.sn->enabled(*l.module) ? "on" : "off");
    }
  }
  std::printf("head policy: %s\n", head->policy().name().c_str());

  // 4. Remove: bake W / sigma into plain weights (e.g. before export).
  remove_spectral_norm(*d->at<Conv2d>(0));
  remove_spectral_norm(*d->at<Conv2d>(2));
  remove_spectral_norm(*d->at<Linear>(5));
  std::printf("state dict entries after removal: %zu\n", d->state_dict().size());
}
