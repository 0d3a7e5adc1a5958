#include "tools/lipschitz.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "layers/layers.h"
#include "ops/ops.h"

namespace sg {

namespace {

// Restores a module's training mode however the report ends.
struct EvalGuard {
  Module& model;
  bool was_training;
  explicit EvalGuard(Module& m) : model(m), was_training(m.is_training()) { model.eval(); }
  ~EvalGuard() { model.train(was_training); }
};

int64_t windows_per_input(int64_t kernel, int64_t stride) { return (kernel + stride - 1) / stride; }

// Lipschitz constants of the layers without a weight to decompose.
double fixed_bound(Module& m) {
  const std::string type = m.type_name();
  if (type == "ReLU" || type == "Tanh" || type == "Flatten" || type == "Reshape" || type == "Dropout") return 1.0;
  if (auto* leaky = dynamic_cast<LeakyReLU*>(&m)) return std::max(1.0, std::abs(leaky->negative_slope));
  if (type == "Sigmoid") return 0.25;
  // An input sits in at most ceil(k/s)^2 windows: max pooling moves each by at most that
  // many outputs' worth; average pooling's norm is at most sqrt(row sum * column sum).
  if (auto* pool = dynamic_cast<MaxPool2d*>(&m)) return static_cast<double>(windows_per_input(pool->kernel, pool->stride));
  if (auto* pool = dynamic_cast<AvgPool2d*>(&m))
    return static_cast<double>(windows_per_input(pool->kernel, pool->stride)) / static_cast<double>(pool->kernel);
  if (auto* bn = dynamic_cast<BatchNorm*>(&m)) {  // eval mode: x -> gamma (x - mean) / sqrt(var + eps) + beta
    NoGradGuard no_grad;
    std::vector<double> gamma = m.param("weight").to_vector<double>(), var = m.buffer("running_var").to_vector<double>();
    double bound = 0;
    for (std::size_t c = 0; c < gamma.size(); ++c) bound = std::max(bound, std::abs(gamma[c]) / std::sqrt(var[c] + bn->eps));
    return bound;
  }
  detail::throw_error("lipschitz_report: no Lipschitz bound is known for a ", type, " layer");
}

void fill_weight_layer(Module& m, LayerLipschitz& row, const LipschitzOptions& options) {
  NoGradGuard no_grad;
  Tensor w = m.param("weight").detach();  // what the layer computes with: W / sigma under SN
  row.has_weight = true;
  ConvNormGeometry g;
  if (auto* conv = dynamic_cast<Conv2d*>(&m)) {
    g = {conv->stride, conv->padding, row.input_shape[2], row.input_shape[3], false};
  } else if (auto* tconv = dynamic_cast<ConvTranspose2d*>(&m)) {
    g = {tconv->stride, tconv->padding, row.input_shape[2], row.input_shape[3], true};
  } else {  // Linear (the caller checked): the operator is the matrix, and its SVD is exact
    row.reshaped_sigma = row.operator_lower = row.certified_upper = exact_top_singular(w);
    return;
  }
  row.reshaped_sigma = exact_top_singular(sn_matrix(w, g.transposed ? 1 : 0));
  Generator gen(0);
  Tensor v = randn(conv_norm_input_shape(w, g), gen, {w.dtype(), Device::cpu(), false}).to(w.device());
  Tensor u = zeros(conv_norm_output_shape(w, g), {w.dtype(), w.device(), false});
  row.operator_lower = conv_operator_power_iteration(w, g, u, v, options.power_iterations);
  row.certified_upper = certified_conv_norm(w, g).item();
}

// max_i ||d model(x_i) / d x_i||: in eval mode the samples do not interact, so one
// backward of the summed outputs gives every sample's input gradient at once.
double empirical_bound(Sequential& model, const Tensor& inputs) {
  Tensor x = inputs.detach().clone().requires_grad_(true);
  Tensor y = model.forward(x);
  SG_CHECK(y.numel() == x.shape()[0], "lipschitz_report: the empirical bound needs one output per input, got output ",
           shape_str(y.shape()), " for ", x.shape()[0], " inputs");
  TensorList g = grad(sum(y), {x}, Tensor(), false);
  Tensor per_sample = sqrt(sum(mul(g[0], g[0]).reshape({x.shape()[0], -1}), {1}));
  return max(per_sample).item();
}

}  // namespace

LipschitzReport lipschitz_report(Sequential& model, const Shape& input_shape, const Tensor& inputs,
                                 LipschitzOptions options) {
  SG_CHECK(!input_shape.empty() && input_shape[0] == 1, "lipschitz_report: expected an input shape (1, ...), got ",
           shape_str(input_shape));
  SG_CHECK(!model.children().empty(), "lipschitz_report: the model has no layers");
  // Reading a weight in eval mode still records SN's sigma in its buffer: every buffer
  // is put back as it was, so a report changes nothing a checkpoint would carry.
  std::map<std::string, Tensor> saved;
  for (auto& [name, t] : model.state_dict()) saved[name] = t.detach().clone();
  struct Restore {
    Sequential& model;
    std::map<std::string, Tensor>& saved;
    ~Restore() { model.load_state_dict(saved); }
  } restore{model, saved};
  EvalGuard eval(model);
  LipschitzReport report;
  Tensor probe;
  {
    NoGradGuard no_grad;
    // The model's own dtype and device: its first layer may have no weight (Flatten).
    std::vector<Tensor> params = model.parameters();
    const Tensor like = inputs.defined() ? inputs : params.empty() ? Tensor() : params[0];
    probe = zeros(input_shape, {like.defined() ? like.dtype() : DType::Float32,
                                like.defined() ? like.device() : Device::cpu(), false});
  }
  for (const auto& [name, child] : model.children()) {
    LayerLipschitz row{name, child->type_name(), probe.shape()};
    if (dynamic_cast<Linear*>(child.get()) || dynamic_cast<Conv2d*>(child.get()) ||
        dynamic_cast<ConvTranspose2d*>(child.get()))
      fill_weight_layer(*child, row, options);
    else
      row.certified_upper = row.operator_lower = fixed_bound(*child);
    report.certified_bound *= row.certified_upper;
    report.layers.push_back(row);
    NoGradGuard no_grad;
    probe = child->forward(probe);
  }
  if (inputs.defined()) {
    report.empirical_lower = empirical_bound(model, inputs);
    report.empirical_samples = inputs.shape()[0];
  }
  return report;
}

std::string LipschitzReport::table() const {
  std::string out = "layer  type             input                 reshaped sigma  operator (power, lower)  "
                    "certified (upper)  certified / reshaped\n";
  char line[256];
  for (const LayerLipschitz& l : layers) {
    if (l.has_weight)
      std::snprintf(line, sizeof line, "%-6s %-16s %-21s %14.6f  %23.6f  %17.6f  %20.4f\n", l.name.c_str(), l.type.c_str(),
                    shape_str(l.input_shape).c_str(), l.reshaped_sigma, l.operator_lower, l.certified_upper,
                    l.certified_upper / l.reshaped_sigma);
    else
      std::snprintf(line, sizeof line, "%-6s %-16s %-21s %14s  %23s  %17.6f\n", l.name.c_str(), l.type.c_str(),
                    shape_str(l.input_shape).c_str(), "-", "-", l.certified_upper);
    out += line;
  }
  std::snprintf(line, sizeof line, "certified upper bound of the network: %.6f (the product of the column above)\n",
                certified_bound);
  out += line;
  if (empirical_samples > 0) {
    std::snprintf(line, sizeof line, "empirical lower bound: %.6f (largest input-gradient norm over %lld inputs)\n",
                  empirical_lower, static_cast<long long>(empirical_samples));
    out += line;
  }
  return out;
}

}  // namespace sg
