#pragma once
// Spectral normalisation as a reparameterisation of any layer's weight.
//
//   auto sn = spectral_norm(conv, {.power_iterations = 1});   // attach
//   conv(x);                        // computes with W / sigma(W)
//   sn_end_step(model, {{"loss_d", l}});  // after each optimiser step: telemetry, policy
//   remove_spectral_norm(conv);     // bake W / sigma into a plain weight
//
// The trainable parameter stays the original weight. u, v (and sigma, the step count
// and the policy's state) are buffers of the layer, so state dicts and checkpoints
// carry them. The operator itself (forward and backward) is ops/spectral_norm.h.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layers/module.h"
#include "layers/sn_policy.h"
#include "ops/spectral_norm.h"

namespace sg {

enum class SNVariant {
  Plain,  // scale * W / sigma, scale = target (1 by default)
  Clamp,  // W / max(1, sigma / target): only shrinks a weight whose sigma exceeds target
  BSN,    // W / mean(sigma of (out x in*kh*kw), sigma of (in x out*kh*kw)): convolution kernels
};

enum class SNEstimator {
  Power,       // power_iterations steps per update (PyTorch's behaviour)
  PowerUntil,  // iterate until ||M v - sigma u|| / sigma < tolerance, at most max_iterations
  Exact,       // LAPACK SVD: for teaching and verification
  Operator,    // power iteration through the layer's own conv / conv-transpose at
               // operator_input_shape: the stride- and padding-aware operator norm (from below)
  Certified,   // certified_conv_norm at operator_input_shape (ops/conv_norm.h): an upper
               // bound of the operator norm, so W / sigma is at most 1 in operator norm
};

enum class SNUpdate {
  EveryForward,  // refine u, v in every training-mode forward (PyTorch-compatible)
  OncePerStep,   // refine them once per optimiser step, in sn_end_step
};

struct SpectralNormOptions {
  int power_iterations = 1;
  double eps = 1e-12;
  std::optional<int64_t> dim;  // default 0, and 1 for ConvTranspose2d (its weight is (in, out, k, k))
  double target = 1.0;         // c in c * W / sigma, and the threshold of Clamp
  SNBackward backward = SNBackward::ThroughSigma;
  SNVariant variant = SNVariant::Plain;
  bool learn_gain = false;  // a learned scalar gamma multiplies the normalised weight (Miyato et al., app. E)
  SNEstimator estimator = SNEstimator::Power;
  double tolerance = 1e-6;   // PowerUntil
  int max_iterations = 100;  // PowerUntil
  Shape operator_input_shape;  // Operator, Certified: (1, C, H, W) of the layer's input
  SNUpdate update = SNUpdate::EveryForward;
  // The deprecated torch.nn.utils.spectral_norm's order inside a power-iteration step
  // (v <- N(M^T u), then u <- N(M v)), to reproduce results of code written against it.
  // Default false: u first, as torch.nn.utils.parametrizations.spectral_norm.
  bool v_first = false;
  // Track the k largest singular values of M (block power iteration, one step per
  // sn_end_step, persistent block in the "<param>_topk_v" buffer); 0: off. At most
  // min(h, w) are tracked.
  int topk = 0;
  std::shared_ptr<SNPolicy> policy;  // default sn_policy::always()
  uint64_t seed = 0;                 // the generator u and v start from
  std::string param = "weight";
};

class SpectralNorm : public Parametrization {
 public:
  SpectralNorm(Module& owner, SpectralNormOptions options);
  Tensor apply(Module& owner, const Tensor& weight) override;
  Tensor apply_linear(Module& owner, const Tensor& x, const Tensor& weight, const Tensor& bias) override;
  std::string describe() const override;

  // After an optimiser step: counts the step, refreshes the telemetry, refines u, v
  // (OncePerStep), and lets the policy decide about the next step.
  void end_step(Module& owner, const std::map<std::string, double>& losses = {});

  // The latest telemetry. Reading it copies sigma from the device (once, not per forward).
  const SNTelemetry& telemetry() const {
    telemetry_.sigma = sigma_buffer_.at({0});
    telemetry_.term_sigmas.clear();
    for (const Tensor& t : term_sigmas_) telemetry_.term_sigmas.push_back(t.item());
    return telemetry_;
  }
  const SpectralNormOptions& options() const { return options_; }
  int64_t dim() const { return dim_; }
  bool enabled(Module& owner) const;  // the policy's decision for the current step
  void set_enabled(Module& owner, bool on);  // switch by hand (the policy may switch back at the next step)
  void set_policy(Module& owner, std::shared_ptr<SNPolicy> policy);
  SNPolicy& policy() const { return *options_.policy; }
  int last_iterations() const { return last_iterations_; }  // PowerUntil: iterations the last update took

  // On request: the largest singular value of M by SVD, and the operator norm of a
  // convolution at `input_shape` (power iteration to convergence).
  double exact_sigma(Module& owner) const;
  // Every singular value of M by SVD, descending (the exact counterpart of topk).
  std::vector<double> exact_spectrum(Module& owner) const;
  double operator_sigma(Module& owner, const Shape& input_shape, int iterations = 200) const;
  // A certified upper bound of that operator norm (ops/conv_norm.h).
  double certified_sigma(Module& owner, const Shape& input_shape) const;

 private:
  std::vector<SigmaTerm> terms(Module& owner) const;
  // What a forward computes with: `done`, or scale * W / sigma(terms) still to do.
  struct Plan {
    Tensor done;
    std::vector<SigmaTerm> terms;
    Tensor sigma;
    double scale = 1.0;
    SNBackward mode = SNBackward::ThroughSigma;
  };
  Plan plan(Module& owner, const Tensor& weight);
  Tensor with_gain(Module& owner, const Tensor& w) const;
  std::vector<Tensor> refine(Module& owner, const Tensor& weight);  // sigma per term, or empty
  std::string buffer_name(const std::string& what) const { return options_.param + "_" + what; }

  SpectralNormOptions options_;
  int64_t dim_ = 0;
  mutable SNTelemetry telemetry_;
  // The on/off flag as last read from its buffer, and which write of which storage that
  // was: enabled() reads the buffer again only after it changed (set_enabled, a loaded
  // checkpoint, a move to another device), since on a GPU a read waits for the device.
  mutable bool flag_on_ = false;
  mutable const void* flag_storage_ = nullptr;
  mutable const void* flag_data_ = nullptr;
  mutable uint64_t flag_version_ = 0;
  Tensor sigma_buffer_;  // the owner's "<param>_sigma" buffer (same tensor, moved with it)
  std::vector<Tensor> term_sigmas_;  // each term's latest sigma, 0-d on the weight's device
  Tensor iterate(const Tensor& matrix, SigmaTerm& term, int iterations) const;  // in the chosen order
  int last_iterations_ = 0;
};

// Attaches SN to module's options.param (default "weight"). An optimiser built after
// this call also sees the gain parameter when learn_gain is set.
std::shared_ptr<SpectralNorm> spectral_norm(Module& module, SpectralNormOptions options = {});
// Replaces the parameter by its current normalised value and drops the SN state.
void remove_spectral_norm(Module& module, const std::string& param = "weight");

// Every SN-normalised parameter below `root`, named "<module path>.<param>".
struct SNLayer {
  std::string name;
  Module* module;
  SpectralNorm* sn;
};
std::vector<SNLayer> spectral_norm_layers(Module& root);
// end_step() for every SN layer below root.
void sn_end_step(Module& root, const std::map<std::string, double>& losses = {});

}  // namespace sg
