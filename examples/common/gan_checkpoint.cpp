#include "gan_checkpoint.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "cli.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "lipschitz_log.h"

namespace sg::examples {

namespace {

// The tensors stored under "<prefix><name>", by <name>: one network's or optimiser's state dict.
std::map<std::string, Tensor> tensors_under(const Checkpoint& checkpoint, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (auto& [name, tensor] : checkpoint.tensors)
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = tensor;
  return out;
}

void store_under(Checkpoint& checkpoint, const std::string& prefix, const std::map<std::string, Tensor>& state) {
  for (auto& [name, tensor] : state) checkpoint.tensors[prefix + name] = tensor;
}

}  // namespace

void start_or_resume(const GanOptions& o, GanState& gan, DataLoader& loader, MetricsCsv& metrics) {
  const bool writes = gan.run.is_root();  // the other ranks of a data-parallel run write no files
  if (!o.resume) {
    metrics.start();
    if (writes) remove_lipschitz_log(o.out);
    return;
  }
  const std::string path = o.out + "/checkpoint.ckpt";
  load_gan_checkpoint(path, gan, loader, o.identity());  // every rank reads it
  metrics.resume(gan.iteration);
  if (writes) truncate_lipschitz(o.out, gan.epochs_done);
  std::printf("resumed from %s at epoch %d, iteration %lld\n", path.c_str(), gan.epochs_done,
              static_cast<long long>(gan.iteration));
}

void save_gan_checkpoint(const std::string& path, const GanState& gan, const DataLoader& loader,
                         const std::string& identity) {
  // A data-parallel run's replicas must be identical (weights, BN statistics, SN's u and v):
  // checked before rank 0 writes the one checkpoint they all resume from.
  dist::verify_replicas(*gan.run.comm, gan.generator->state_dict(), "G");
  dist::verify_replicas(*gan.run.comm, gan.discriminator->state_dict(), "D");
  if (!gan.run.is_root()) return;
  Checkpoint c;
  store_under(c, "G.", gan.generator->state_dict());
  store_under(c, "D.", gan.discriminator->state_dict());
  store_under(c, "optG.", gan.generator_optimizer->state_dict());
  store_under(c, "optD.", gan.discriminator_optimizer->state_dict());
  c.meta["epoch"] = std::to_string(gan.epochs_done);
  c.meta["iteration"] = std::to_string(gan.iteration);
  c.meta["z_rng"] = gan.noise_rng.state();
  c.meta["loader_rng"] = loader.rng_state();
  c.meta["options"] = identity;
  save_checkpoint(path, c);
}

void load_gan_checkpoint(const std::string& path, GanState& gan, DataLoader& loader, const std::string& identity) {
  Checkpoint c = load_checkpoint(path);
  for (const char* key : {"options", "iteration", "epoch", "z_rng", "loader_rng"})
    SG_CHECK(c.meta.count(key), "--resume: ", path, " is not a mnist_gan checkpoint (it has no '", key,
             "' entry; a classifier's or another program's?)");
  SG_CHECK(c.meta["options"] == identity, "--resume: ", path, " was written by a run with other settings: ",
           settings_difference(c.meta["options"], identity));
  gan.generator->load_state_dict(tensors_under(c, "G."));
  gan.discriminator->load_state_dict(tensors_under(c, "D."));
  gan.generator_optimizer->load_state_dict(tensors_under(c, "optG."));
  gan.discriminator_optimizer->load_state_dict(tensors_under(c, "optD."));
  gan.noise_rng.set_state(c.meta["z_rng"]);
  loader.set_rng_state(c.meta["loader_rng"]);
  gan.iteration = parse_integer(c.meta["iteration"], path + ": the checkpoint's iteration");
  gan.epochs_done = static_cast<int>(parse_integer(c.meta["epoch"], path + ": the checkpoint's epoch"));
}

void load_generator_weights(const std::string& path, Sequential& generator) {
  generator.load_state_dict(tensors_under(load_checkpoint(path), "G."));
}

std::string settings_difference(const std::string& saved, const std::string& current) {
  auto parse = [](const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    for (std::string item; in >> item;) {
      const auto eq = item.find('=');
      out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    }
    return out;
  };
  std::map<std::string, std::string> a = parse(saved), b = parse(current);
  std::string diff;
  for (const auto& [key, value] : a)
    if (!b.count(key) || b[key] != value)
      diff += str(diff.empty() ? "" : ", ", key, "=", value, " (this run: ", b.count(key) ? b[key] : "unset", ")");
  for (const auto& [key, value] : b)
    if (!a.count(key)) diff += str(diff.empty() ? "" : ", ", key, " unset (this run: ", value, ")");
  return diff;
}

}  // namespace sg::examples
