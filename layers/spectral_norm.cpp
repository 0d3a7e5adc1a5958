#include "layers/spectral_norm.h"

#include <cmath>

#include "core/autograd.h"
#include "core/generator.h"
#include "layers/conv.h"
#include "ops/conv_norm.h"
#include "ops/ops.h"

namespace sg {

namespace {

constexpr int kWarmupIterations = 15;

// The layer's convolution at `input_shape` (1, C, H, W), for the operator and certified
// estimators (ops/conv_norm.h).
ConvNormGeometry conv_geometry(Module& owner, const Shape& input_shape) {
  ConvNormGeometry geometry;
  if (auto* c = dynamic_cast<Conv2d*>(&owner)) geometry.stride = c->stride, geometry.padding = c->padding;
  else if (auto* t = dynamic_cast<ConvTranspose2d*>(&owner)) geometry.stride = t->stride, geometry.padding = t->padding, geometry.transposed = true;
  else detail::throw_error("spectral norm: the operator and certified estimators need a Conv2d or ConvTranspose2d, got a ",
                           owner.type_name());
  if (input_shape.size() == 4) geometry.input_height = input_shape[2], geometry.input_width = input_shape[3];
  return geometry;
}

bool uses_conv_geometry(SNEstimator e) { return e == SNEstimator::Operator || e == SNEstimator::Certified; }

Tensor unit(const Tensor& x, double eps) {
  double norm = std::sqrt(sum(mul(x, x)).item());
  return mul(x, scalar_tensor(1.0 / std::max(norm, eps), {x.dtype(), x.device(), false}));
}

Tensor normal_unit(const Shape& shape, Generator& gen, const Tensor& like, double eps) {
  return unit(randn(shape, gen, {like.dtype(), Device::cpu(), false}).to(like.device()), eps);
}

}  // namespace

SpectralNorm::SpectralNorm(Module& owner, SpectralNormOptions options) : options_(std::move(options)) {
  const std::string& p = options_.param;
  SG_CHECK(owner.has_param(p), "spectral_norm: ", owner.type_name(), " has no parameter \"", p, "\"");
  SG_CHECK(!owner.parametrization(p), "spectral_norm: \"", p, "\" of ", owner.type_name(),
           " is already parametrized");
  SG_CHECK(options_.power_iterations >= 1 && options_.eps > 0, "spectral_norm: expected power_iterations >= 1 and "
           "eps > 0, got ", options_.power_iterations, " and ", options_.eps);
  SG_CHECK(options_.target > 0, "spectral_norm: expected a positive target coefficient, got ", options_.target);
  SG_CHECK(options_.estimator != SNEstimator::PowerUntil || (options_.max_iterations >= 1 && options_.tolerance > 0),
           "spectral_norm: the until-converged estimator needs max_iterations >= 1 and tolerance > 0, got ",
           options_.max_iterations, " and ", options_.tolerance);
  if (!options_.policy) options_.policy = sn_policy::always();
  Tensor w = owner.raw_param(p).detach();
  SG_CHECK(w.dim() >= 2, "spectral_norm: expected a weight with at least 2 dims, got ", shape_str(w.shape()));
  dim_ = wrap_dim(options_.dim.value_or(dynamic_cast<ConvTranspose2d*>(&owner) ? 1 : 0), w.dim(), "spectral_norm");
  SG_CHECK(options_.variant != SNVariant::BSN || w.dim() == 4, "spectral_norm: the bsn variant is for convolution "
           "kernels (4-d weights), got ", shape_str(w.shape()));
  if (uses_conv_geometry(options_.estimator)) {
    const Shape& in = options_.operator_input_shape;
    const Tensor& kernel = owner.raw_param(p);
    const ConvNormGeometry g = conv_geometry(owner, in);
    SG_CHECK(in.size() == 4 && in[0] == 1 && in[2] > 0 && in[3] > 0, "spectral_norm: the operator and certified "
             "estimators need operator_input_shape (1, C, H, W) with H, W > 0, got ", shape_str(in));
    // Conv2d's weight is (out, in, k, k); ConvTranspose2d's is (in, out, k, k).
    const int64_t channels = kernel.dim() == 4 ? kernel.shape()[g.transposed ? 0 : 1] : -1;
    SG_CHECK(in[1] == channels, "spectral_norm: operator_input_shape ", shape_str(in), " has ", in[1],
             " channels, but the ", owner.type_name(), " takes ", channels, " input channels");
    try {
      conv_norm_output_shape(kernel.detach(), g);
    } catch (const Error& e) {
      detail::throw_error("spectral_norm: operator_input_shape ", shape_str(in), " does not fit the ",
                          owner.type_name(), ": ", e.what());
    }
  }

  // u, v ~ N(0, 1) from the layer's own generator, normalised, then warmed up.
  Generator gen(options_.seed);
  NoGradGuard no_grad;
  auto add_pair = [&](const std::string& suffix, int64_t dim) {
    Tensor m = sn_matrix(w, dim);
    Tensor& u = owner.register_buffer(buffer_name("u" + suffix), normal_unit({m.shape()[0]}, gen, w, options_.eps));
    Tensor& v = owner.register_buffer(buffer_name("v" + suffix), normal_unit({m.shape()[1]}, gen, w, options_.eps));
    power_iteration(m, u, v, kWarmupIterations, options_.eps);
  };
  add_pair("", dim_);
  if (options_.variant == SNVariant::BSN) add_pair("2", dim_ == 0 ? 1 : 0);
  if (options_.estimator == SNEstimator::Operator) {
    const ConvNormGeometry g = conv_geometry(owner, options_.operator_input_shape);
    Tensor& v = owner.register_buffer(buffer_name("op_v"), normal_unit(conv_norm_input_shape(w, g), gen, w, options_.eps));
    Tensor& u = owner.register_buffer(buffer_name("op_u"), normal_unit(conv_norm_output_shape(w, g), gen, w, options_.eps));
    conv_operator_power_iteration(w, g, u, v, kWarmupIterations, options_.eps);
  }
  SG_CHECK(options_.topk >= 0, "spectral_norm: expected topk >= 0, got ", options_.topk);
  if (options_.topk > 0) {
    Tensor m = sn_matrix(w, dim_);
    const int64_t k = std::min<int64_t>(options_.topk, std::min(m.shape()[0], m.shape()[1]));
    Tensor& block = owner.register_buffer(buffer_name("topk_v"), randn({m.shape()[1], k}, gen, {DType::Float64}));
    top_singular_values(m, block, kWarmupIterations);
  }
  sigma_buffer_ = owner.register_buffer(buffer_name("sigma"), zeros({1}, {DType::Float64}));
  owner.register_buffer(buffer_name("sigma_previous"), zeros({1}, {DType::Float64}));
  owner.register_buffer(buffer_name("sn_step"), zeros({1}, {DType::Int64}));
  owner.register_buffer(buffer_name("sn_on"), full({1}, options_.policy->decide(telemetry_) ? 1 : 0, {DType::Int64}));
  owner.register_buffer(buffer_name("sn_policy_state"), full({1}, options_.policy->state(), {DType::Float64}));
  if (options_.learn_gain) owner.register_parameter(buffer_name("gain"), ones({}, {w.dtype(), w.device(), false}));
}

std::vector<SigmaTerm> SpectralNorm::terms(Module& owner) const {
  std::vector<SigmaTerm> out;
  if (options_.variant == SNVariant::BSN) {
    out.push_back({dim_, owner.buffer(buffer_name("u")), owner.buffer(buffer_name("v")), 0.5});
    out.push_back({dim_ == 0 ? 1 : 0, owner.buffer(buffer_name("u2")), owner.buffer(buffer_name("v2")), 0.5});
  } else {
    out.push_back({dim_, owner.buffer(buffer_name("u")), owner.buffer(buffer_name("v")), 1.0});
  }
  return out;
}

// k steps in the configured order. v first on M is u first on M^T with the roles of the
// vectors swapped, and u . (M v) = v . (M^T u): the same function gives both.
Tensor SpectralNorm::iterate(const Tensor& matrix, SigmaTerm& term, int iterations) const {
  return options_.v_first ? power_iteration(matrix.t(), term.v, term.u, iterations, options_.eps)
                          : power_iteration(matrix, term.u, term.v, iterations, options_.eps);
}

std::vector<Tensor> SpectralNorm::refine(Module& owner, const Tensor& weight) {
  NoGradGuard no_grad;
  Tensor w = weight.detach();
  std::vector<Tensor> sigmas;  // per term, when the power iteration gives them for free
  std::vector<SigmaTerm> all_terms = terms(owner);
  for (SigmaTerm& term : all_terms) {
    Tensor m = sn_matrix(w, term.dim);
    switch (options_.estimator) {
      case SNEstimator::Power:
      case SNEstimator::Operator:   // the matrix pair still gives sigma_matrix for the ratio
      case SNEstimator::Certified:
        sigmas.push_back(iterate(m, term, options_.power_iterations));
        last_iterations_ = options_.power_iterations;
        break;
      case SNEstimator::PowerUntil:
        last_iterations_ = 0;
        while (last_iterations_ < options_.max_iterations) {
          iterate(m, term, 1);
          ++last_iterations_;
          if (sn_residual(m, term.u, term.v) < options_.tolerance) break;
        }
        break;
      case SNEstimator::Exact: {
        Tensor u, v;
        exact_top_singular(m, &u, &v);
        term.u.copy_(u);
        term.v.copy_(v);
        last_iterations_ = 0;
        break;
      }
    }
  }
  if (options_.estimator == SNEstimator::Operator)
    conv_operator_power_iteration(w, conv_geometry(owner, options_.operator_input_shape), owner.buffer(buffer_name("op_u")),
                                  owner.buffer(buffer_name("op_v")), options_.power_iterations, options_.eps);
  if (sigmas.size() != all_terms.size()) sigmas.clear();
  return sigmas;
}

// Everything apply() does but the last normalisation: refine, estimate and record sigma,
// and decide. Either the weight to compute with is settled (`done`), or what is left is
// scale * W / sigma with `terms` and `sigma`, which apply() and apply_linear() each do
// their own way.
SpectralNorm::Plan SpectralNorm::plan(Module& owner, const Tensor& weight) {
  Plan plan;
  const bool on = enabled(owner);
  telemetry_.applied = false;
  if (!on && !options_.policy->estimates()) {  // `never`: exactly the plain layer
    plan.done = weight;
    return plan;
  }
  const bool training = owner.is_training();
  const bool through_iterations = options_.backward == SNBackward::ThroughIterations;
  // through_iterations refines the matrix vectors inside its own graph (below); the
  // operator estimator's vectors are refined here in every case.
  const bool iterates_in_graph = through_iterations && on && !uses_conv_geometry(options_.estimator);
  std::vector<Tensor> refined_sigmas;
  if (training && options_.update == SNUpdate::EveryForward && !iterates_in_graph)
    refined_sigmas = refine(owner, weight);

  // sigma stays a 0-d tensor on the weight's device; telemetry() reads it when asked.
  // A power iteration just run gives each term's u . (M v) already (no pass over W).
  std::vector<SigmaTerm> sigma_terms = terms(owner);
  Tensor sigma;
  for (std::size_t k = 0; k < sigma_terms.size(); ++k) {
    const SigmaTerm& t = sigma_terms[k];
    Tensor term_sigma = k < refined_sigmas.size() ? refined_sigmas[k] : sn_sigma_tensor(sn_matrix(weight, t.dim), t.u, t.v);
    if (term_sigmas_.size() != sigma_terms.size()) term_sigmas_.resize(sigma_terms.size());
    term_sigmas_[k] = term_sigma.detach();
    Tensor s = t.weight == 1.0 ? term_sigma : term_sigma * t.weight;
    sigma = sigma.defined() ? add(sigma, s) : s;
  }
  Tensor operator_sigma;  // differentiable, for the operator and certified estimators
  if (options_.estimator == SNEstimator::Operator) {
    const ConvNormGeometry g = conv_geometry(owner, options_.operator_input_shape);
    // Copies of u, v: a later forward refines the buffers, and this backward needs these.
    operator_sigma = sum(mul(owner.buffer(buffer_name("op_u")).detach().clone(),
                             conv_norm_apply(weight, g, owner.buffer(buffer_name("op_v")).detach().clone())));
  } else if (options_.estimator == SNEstimator::Certified) {
    operator_sigma = certified_conv_norm(weight, conv_geometry(owner, options_.operator_input_shape));
  }
  if (operator_sigma.defined()) {
    telemetry_.operator_ratio = operator_sigma.item() / sigma.item();
    sigma = operator_sigma.detach();
  }
  auto record_sigma = [&](const Tensor& s) {
    NoGradGuard no_grad;
    sigma_buffer_.copy_(s.detach().reshape({1}));
  };
  record_sigma(sigma);
  if (!on) {  // log_only, or switched off: estimated and reported only
    plan.done = weight;
    return plan;
  }
  const bool clamp = options_.variant == SNVariant::Clamp;
  // W / max(1, sigma/c) = W. Through the iterations, sigma is known only after they ran (below).
  if (clamp && !(iterates_in_graph && training) && sigma.item() <= options_.target) {
    plan.done = with_gain(owner, weight);
    return plan;
  }

  const double scale = options_.target;
  if (operator_sigma.defined()) {
    plan.done = div(mul(weight, scalar_tensor(scale, {weight.dtype(), weight.device(), false})),
                    options_.backward == SNBackward::DetachSigma ? operator_sigma.detach() : operator_sigma);
  } else if (iterates_in_graph && training) {
    Tensor s;
    Tensor out = spectral_normalize_through_iterations(weight, sigma_terms, scale, options_.power_iterations,
                                                       options_.eps, &s);
    record_sigma(s);
    // The decision comes from the refined sigma, never from the stale vectors: deciding
    // first left u, v unrefined forever once a stale sigma fell below the target.
    if (clamp && s.item() <= options_.target) {
      plan.done = with_gain(owner, weight);
      return plan;
    }
    plan.done = out;
  } else {
    plan.terms = std::move(sigma_terms);
    plan.sigma = sigma;  // computed above: spectral_normalize uses it as is
    plan.scale = scale;
    plan.mode = through_iterations ? SNBackward::ThroughSigma : options_.backward;
    return plan;  // telemetry_.applied is set once the caller has normalised
  }
  telemetry_.applied = true;
  plan.done = with_gain(owner, plan.done);
  return plan;
}

Tensor SpectralNorm::with_gain(Module& owner, const Tensor& w) const {
  return options_.learn_gain ? mul(w, owner.raw_param(buffer_name("gain"))) : w;
}

Tensor SpectralNorm::apply(Module& owner, const Tensor& weight) {
  Plan p = plan(owner, weight);
  if (p.done.defined()) return p.done;
  Tensor out = spectral_normalize(weight, p.terms, p.scale, p.mode, nullptr, &p.sigma);
  telemetry_.applied = true;
  return with_gain(owner, out);
}

// The layer's product with W_sn in one op (ops/spectral_norm.h: on the CPU, 1/sigma is the
// GEMM's alpha and W_sn is never written). A learned gain multiplies W_sn first.
Tensor SpectralNorm::apply_linear(Module& owner, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  Plan p = plan(owner, weight);
  if (p.done.defined()) return linear(x, p.done, bias);
  Tensor y = options_.learn_gain
                 ? linear(x, with_gain(owner, spectral_normalize(weight, p.terms, p.scale, p.mode, nullptr, &p.sigma)), bias)
                 : sn_linear(x, weight, bias, p.terms, p.scale, p.mode, &p.sigma);
  telemetry_.applied = true;
  return y;
}

bool SpectralNorm::enabled(Module& owner) const {
  const Tensor& flag = owner.buffer(buffer_name("sn_on"));
  const void* storage = &flag.storage();
  const void* data = flag.storage().data();
  if (storage != flag_storage_ || data != flag_data_ || flag.storage().version() != flag_version_) {
    flag_on_ = flag.at({0}) != 0;
    flag_storage_ = storage;
    flag_data_ = data;
    flag_version_ = flag.storage().version();
  }
  return flag_on_;
}

void SpectralNorm::set_enabled(Module& owner, bool on) {
  NoGradGuard no_grad;
  Tensor& flag = owner.buffer(buffer_name("sn_on"));
  flag.fill_(on ? 1 : 0);
  flag_on_ = on;  // known without reading it back
  flag_storage_ = &flag.storage();
  flag_data_ = flag.storage().data();
  flag_version_ = flag.storage().version();
}

void SpectralNorm::set_policy(Module& owner, std::shared_ptr<SNPolicy> policy) {
  SG_CHECK(policy != nullptr, "spectral_norm: set_policy needs a policy");
  options_.policy = std::move(policy);
  NoGradGuard no_grad;
  owner.buffer(buffer_name("sn_policy_state")).fill_(options_.policy->state());
  set_enabled(owner, options_.policy->decide(telemetry_));
}

void SpectralNorm::end_step(Module& owner, const std::map<std::string, double>& losses) {
  NoGradGuard no_grad;
  // The policy's memory lives in a buffer, so a loaded state dict carries it.
  options_.policy->set_state(owner.buffer(buffer_name("sn_policy_state")).at({0}));
  Tensor weight = owner.raw_param(options_.param).detach();
  if (options_.update == SNUpdate::OncePerStep && options_.policy->estimates()) {
    refine(owner, weight);
    double sigma = 0;
    term_sigmas_.clear();
    for (const SigmaTerm& t : terms(owner)) {
      const double term_sigma = sn_sigma(sn_matrix(weight, t.dim), t.u, t.v);
      term_sigmas_.push_back(scalar_tensor(term_sigma, {DType::Float64}));
      sigma += t.weight * term_sigma;
    }
    sigma_buffer_.fill_(sigma);
  }
  if (options_.topk > 0)
    telemetry_.top_singular_values = top_singular_values(sn_matrix(weight, dim_), owner.buffer(buffer_name("topk_v")));
  Tensor& step = owner.buffer(buffer_name("sn_step"));
  telemetry_.step = static_cast<int64_t>(step.at({0})) + 1;
  step.fill_(static_cast<double>(telemetry_.step));
  telemetry_.sigma = owner.buffer(buffer_name("sigma")).at({0});
  Tensor& previous = owner.buffer(buffer_name("sigma_previous"));
  telemetry_.sigma_change = telemetry_.step > 1 ? telemetry_.sigma - previous.at({0}) : 0.0;
  previous.fill_(telemetry_.sigma);
  if (options_.policy->estimates()) {
    SigmaTerm first = terms(owner)[0];
    telemetry_.residual = sn_residual(sn_matrix(weight, first.dim), first.u, first.v);
  }
  telemetry_.losses = losses;
  set_enabled(owner, options_.policy->decide(telemetry_));
  owner.buffer(buffer_name("sn_policy_state")).fill_(options_.policy->state());
}

std::vector<double> SpectralNorm::exact_spectrum(Module& owner) const {
  return exact_singular_values(sn_matrix(owner.raw_param(options_.param).detach(), dim_));
}

double SpectralNorm::exact_sigma(Module& owner) const {
  return exact_top_singular(sn_matrix(owner.raw_param(options_.param).detach(), dim_));
}

double SpectralNorm::operator_sigma(Module& owner, const Shape& input_shape, int iterations) const {
  NoGradGuard no_grad;
  Tensor w = owner.raw_param(options_.param).detach();
  const ConvNormGeometry g = conv_geometry(owner, input_shape);
  Generator gen(options_.seed + 1);
  Tensor v = normal_unit(conv_norm_input_shape(w, g), gen, w, options_.eps);
  Tensor u = zeros(conv_norm_output_shape(w, g), {w.dtype(), w.device(), false});
  return conv_operator_power_iteration(w, g, u, v, iterations, options_.eps);
}

double SpectralNorm::certified_sigma(Module& owner, const Shape& input_shape) const {
  NoGradGuard no_grad;
  return certified_conv_norm(owner.raw_param(options_.param).detach(), conv_geometry(owner, input_shape)).item();
}

std::string SpectralNorm::describe() const {
  const char* variant = options_.variant == SNVariant::Plain ? "sn" : options_.variant == SNVariant::Clamp ? "clamp" : "bsn";
  return str("spectral_norm(", variant, ", dim=", dim_, ", iterations=", options_.power_iterations, ", target=",
             options_.target, ", policy=", options_.policy->name(), ")");
}

std::shared_ptr<SpectralNorm> spectral_norm(Module& module, SpectralNormOptions options) {
  std::string param = options.param;
  auto sn = std::make_shared<SpectralNorm>(module, std::move(options));
  module.set_parametrization(param, sn);
  return sn;
}

void remove_spectral_norm(Module& module, const std::string& param) {
  auto sn = std::dynamic_pointer_cast<SpectralNorm>(module.parametrization(param));
  SG_CHECK(sn != nullptr, "remove_spectral_norm: \"", param, "\" of ", module.type_name(),
           " has no spectral normalisation");
  Tensor baked;
  {
    NoGradGuard no_grad;
    bool was_training = module.is_training();
    module.train(false);  // no refinement: bake exactly the current W / sigma
    baked = module.param(param).detach().clone();
    module.train(was_training);
  }
  module.remove_parametrization(param);
  for (const char* what : {"u", "v", "u2", "v2", "op_u", "op_v", "sigma", "sigma_previous", "sn_step", "sn_on", "sn_policy_state", "topk_v"})
    module.remove_buffer(param + "_" + what);
  if (module.has_param(param + "_gain")) module.remove_parameter(param + "_gain");
  NoGradGuard no_grad;
  module.raw_param(param).copy_(baked);
}

std::vector<SNLayer> spectral_norm_layers(Module& root) {
  std::vector<SNLayer> out;
  for (auto& [path, module] : root.named_modules())
    for (auto& [param, p] : module->parametrizations())
      if (auto* sn = dynamic_cast<SpectralNorm*>(p.get()))
        out.push_back({path.empty() ? param : path + "." + param, module, sn});
  return out;
}

void sn_end_step(Module& root, const std::map<std::string, double>& losses) {
  for (SNLayer& layer : spectral_norm_layers(root)) layer.sn->end_step(*layer.module, losses);
}

}  // namespace sg
