#include "gan_options.h"

#include <CLI/CLI.hpp>

#include "cli.h"
#include "gan_spectral_norm.h"
#include "core/error.h"

namespace sg::examples {

std::string GanOptions::identity() const {
  return str("model=", model, " sn=", sn, " sn_layers=", sn_layers, " sn_variant=", sn_variant, " sn_iters=", sn_iters,
             " sn_target=", sn_target, " loss=", loss, " batch=", batch, " n_dis=", n_dis, " seed=", seed,
             " lr=", lr, " iters=", iters, " data=", data, " sn_schedule=", sn_schedule, " sn_threshold=", sn_threshold,
             " sn_growth=", sn_growth, " sn_topk=", sn_topk, " sn_gap_on=", sn_gap_on, " sn_gap_off=", sn_gap_off,
             " betas=", betas.size() == 2 ? str(betas[0], ",", betas[1]) : "?");
}

Device GanOptions::checked_device() const {
  SG_CHECK(model == "dcgan" || model == "mlp", "--model: expected dcgan or mlp, got \"", model, "\"");
  SG_CHECK(loss == "hinge" || loss == "bce", "--loss: expected hinge or bce, got \"", loss, "\"");
  SG_CHECK(device == "cpu" || device == "cuda", "--device: expected cpu or cuda, got \"", device, "\"");
  const Device chosen = device == "cuda" ? Device::cuda() : Device::cpu();
  SG_CHECK(chosen.is_cpu() || device_available(DeviceType::CUDA), "--device cuda: no CUDA device is available "
           "(sigmagrad was built without CUDA, or no GPU was found)");
  SG_CHECK(betas.size() == 2, "--betas: expected two values, e.g. --betas 0.5 0.999");
  // A recorded step replays device work only: what the host decides per step is frozen.
  SG_CHECK(!cuda_graph || sn == "all" || sn == "none" || sn == "log", "--cuda-graph: expected --sn all, none or log "
           "(a recorded step cannot switch SN per step), got --sn ", sn);
  SG_CHECK(!cuda_graph || n_dis == 1, "--cuda-graph: expected --n-dis 1 (D's extra steps read batches from the "
           "loader inside the step), got --n-dis ", n_dis);
  return chosen;
}

void add_gan_options(CLI::App& app, GanOptions& o) {
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
  app.add_option("--sn-gap-off", o.sn_gap_off,
                 str("for --sn balance: off again below this (after ", kBalanceMinSteps, " steps on)"));
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
  app.add_flag("--cuda-graph", o.cuda_graph, "record the training step once and replay it: one CUDA graph per step "
               "with --device cuda; on the CPU the step runs again through the same path (no graph)");
  app.add_option("--classifier", o.classifier, "classifier weights for the scores (trained if missing)");
  app.add_flag("--eval-only", o.eval_only, "only score a checkpoint (--checkpoint FILE)");
  app.add_option("--checkpoint", o.checkpoint, "checkpoint to score with --eval-only");
  app.add_option("--eval-samples", o.eval_samples, "samples scored at the end")->check(positive());
  app.add_flag("--no-eval", o.no_eval, "skip the final scores");
  app.add_option("--dump-samples", o.dump_samples, "N FILE.npy: write N samples as float32 (N,1,28,28)")->expected(2);
}

}  // namespace sg::examples
