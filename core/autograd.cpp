#include "core/autograd.h"

#include <cmath>
#include <queue>
#include <unordered_map>
#include <unordered_set>


namespace sg {

// ---- grad mode --------------------------------------------------------------------
namespace {
thread_local bool t_grad_enabled = true;
thread_local uint64_t t_next_sequence_nr = 0;
bool g_detect_anomaly = false;
}  // namespace

bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool enabled) { t_grad_enabled = enabled; }
void set_detect_anomaly(bool enabled) { g_detect_anomaly = enabled; }
bool detect_anomaly() { return g_detect_anomaly; }

// ---- saved tensors ------------------------------------------------------------------
SavedTensor::SavedTensor(const Tensor& t, std::string op_name)
    : tensor_(t.detach()), saved_version_(t.storage().version()), op_name_(std::move(op_name)) {}

const Tensor& SavedTensor::get() const {
  uint64_t now = tensor_.storage().version();
  SG_CHECK(now == saved_version_, "backward of '", op_name_,
           "': a tensor it saved (shape ", shape_str(tensor_.shape()),
           ") was modified by an in-place operation after the forward pass (its version was ",
           saved_version_, " when saved, is ", now,
           " now). Clone the tensor before modifying it, or modify it after backward.");
  return tensor_;
}

// ---- nodes ----------------------------------------------------------------------------
Node::Node(std::string name, BackwardFn backward)
    : sequence_nr(t_next_sequence_nr++), name_(std::move(name)), backward_(std::move(backward)) {}

Node::~Node() {
  // Destroying the last reference to a node destroys its inputs' nodes in turn. On a
  // graph 100,000 ops deep that recursion would overflow the stack, so nodes about
  // to die are queued here and destroyed one after another by the outermost call.
  thread_local std::vector<std::shared_ptr<Node>> pending;
  thread_local bool draining = false;
  for (Edge& edge : next_edges) {
    if (edge.node && edge.node.use_count() == 1) pending.push_back(std::move(edge.node));
  }
  next_edges.clear();
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    std::shared_ptr<Node> last = std::move(pending.back());
    pending.pop_back();
    last.reset();  // may push more nodes onto `pending`
  }
  draining = false;
}

TensorList Node::apply(const Tensor& grad_output) {
  SG_CHECK(!released_, "backward through '", name_,
           "' a second time: its saved tensors were freed after the first backward. "
           "Pass retain_graph=true to the first backward() to keep them.");
  std::vector<bool> needs_input_grad(next_edges.size());
  for (std::size_t i = 0; i < next_edges.size(); ++i) needs_input_grad[i] = next_edges[i].node != nullptr;
  return backward_(grad_output, needs_input_grad);
}

void Node::release() {
  backward_ = nullptr;  // drops the saved tensors captured by the backward function
  released_ = true;
}

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> leaf)
    : Node("AccumulateGrad", nullptr), leaf_(std::move(leaf)) {}

TensorList AccumulateGrad::apply(const Tensor& grad_output) {
  NoGradGuard no_grad;
  if (!leaf_->grad) {
    // A copy: the incoming gradient may alias a tensor the caller still owns.
    leaf_->grad = grad_output.clone().impl_ptr();
  } else {
    Tensor(leaf_->grad).add_(grad_output);
  }
  return {};
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return impl->grad_fn;
  if (!impl->requires_grad) return nullptr;
  std::shared_ptr<Node> accumulator = impl->grad_accumulator.lock();
  if (!accumulator) {
    accumulator = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = accumulator;
  }
  return accumulator;
}

bool any_requires_grad(const TensorList& inputs) {
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, const TensorList& inputs, const Tensor& output, BackwardFn backward) {
  if (!GradMode::is_enabled() || !any_requires_grad(inputs)) return output;
  auto node = std::make_shared<Node>(name, std::move(backward));
  node->next_edges.reserve(inputs.size());
  node->input_meta.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    bool differentiable = input.defined() && is_floating(input.dtype());
    node->next_edges.push_back({differentiable ? gradient_edge(input) : nullptr});
    node->input_meta.push_back(input.defined() ? InputMeta{input.shape(), input.dtype(), input.device()}
                                               : InputMeta{{}, DType::Float32, Device::cpu()});
  }
  node->output = output.impl_ptr();
  output.impl()->grad_fn = std::move(node);
  return output;
}

// ---- the engine ---------------------------------------------------------------------------
namespace {

// The one place every gradient is checked before it flows on.
void validate_gradient(const Node& node, std::size_t input_index, const Tensor& grad) {
  const InputMeta& meta = node.input_meta[input_index];
  SG_CHECK(grad.shape() == meta.shape, "backward of '", node.name(), "' returned a gradient of shape ",
           shape_str(grad.shape()), " for input ", input_index, ", expected the input's shape ",
           shape_str(meta.shape));
  SG_CHECK(grad.dtype() == meta.dtype, "backward of '", node.name(), "' returned a ",
           dtype_name(grad.dtype()), " gradient for input ", input_index, ", expected ",
           dtype_name(meta.dtype));
  SG_CHECK(grad.device() == meta.device, "backward of '", node.name(), "' returned a gradient on ",
           grad.device().str(), " for input ", input_index, ", expected ", meta.device.str());
  if (detect_anomaly()) {
    std::vector<double> values = grad.to(DType::Float64).to_vector<double>();
    for (double v : values)
      SG_CHECK(std::isfinite(v), "anomaly: backward of '", node.name(),
               "' produced a non-finite gradient (", v, ") for input ", input_index);
  }
}

struct LaterFirst {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr < b->sequence_nr; }
};

// Runs backward from `root` with gradient `root_grad`. When `capture` is non-empty
// (grad()), the gradients arriving at those nodes are stored in `captured`, only the
// nodes that lead to a captured node run, and no .grad is touched.
void execute(const std::shared_ptr<Node>& root, const Tensor& root_grad, bool retain_graph,
             const std::vector<Node*>& capture, TensorList* captured) {
  // 1. Count, for every node reachable from the root, the edges that lead into it.
  std::unordered_map<Node*, int> dependencies;
  std::vector<Node*> order{root.get()};  // discovery order
  std::unordered_set<Node*> seen{root.get()};
  for (std::size_t k = 0; k < order.size(); ++k) {
    for (const Edge& edge : order[k]->next_edges) {
      if (!edge.node) continue;
      ++dependencies[edge.node.get()];
      if (seen.insert(edge.node.get()).second) order.push_back(edge.node.get());
    }
  }

  // With captures, a node is needed when a captured node lies at or below it. Needed
  // nodes only have needed parents, so skipping the others loses nothing.
  const bool capturing = !capture.empty();
  std::unordered_set<Node*> needed(capture.begin(), capture.end());
  if (capturing) {
    for (bool grew = true; grew;) {  // fixed point; graphs are DAGs, so this ends
      grew = false;
      for (auto it = order.rbegin(); it != order.rend(); ++it)
        if (!needed.count(*it))
          for (const Edge& edge : (*it)->next_edges)
            if (edge.node && needed.count(edge.node.get())) {
              needed.insert(*it);
              grew = true;
              break;
            }
    }
  }
  auto below_is_needed = [&](Node* node) {
    for (const Edge& edge : node->next_edges)
      if (edge.node && needed.count(edge.node.get())) return true;
    return false;
  };

  // 2. Run nodes whose gradients have all arrived, summing gradients in buffers.
  std::unordered_map<Node*, Tensor> buffers{{root.get(), root_grad}};
  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  ready.push(root.get());
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    Tensor grad_output = std::move(buffers[node]);
    buffers.erase(node);

    if (capturing) {
      if (!needed.count(node)) continue;
      for (std::size_t i = 0; i < capture.size(); ++i)
        if (capture[i] == node) (*captured)[i] = grad_output;
      if (dynamic_cast<AccumulateGrad*>(node) || !below_is_needed(node)) continue;
    }

    TensorList input_grads;
    if (grad_output.defined()) {
      if (auto output = node->output.lock(); output && output->retains_grad && !capturing) {
        NoGradGuard no_grad;
        if (!output->grad) output->grad = grad_output.clone().impl_ptr();
        else Tensor(output->grad).add_(grad_output);
      }
      input_grads = node->apply(grad_output);
      if (!retain_graph) node->release();
    }
    bool is_sink = dynamic_cast<AccumulateGrad*>(node) != nullptr;
    SG_CHECK(is_sink || !grad_output.defined() || input_grads.size() == node->next_edges.size(),
             "backward of '", node->name(), "' returned ", input_grads.size(), " gradients, expected ",
             node->next_edges.size(), " (one per input)");

    for (std::size_t i = 0; i < node->next_edges.size(); ++i) {
      Node* next = node->next_edges[i].node.get();
      if (!next) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        validate_gradient(*node, i, input_grads[i]);
        Tensor& buffer = buffers[next];
        if (!buffer.defined()) {
          buffer = input_grads[i];
        } else {
          NoGradGuard no_grad;
          buffer = buffer.add(input_grads[i]);
        }
      }
      if (--dependencies[next] == 0) ready.push(next);
    }
  }
}

void check_root(const Tensor& root, const Tensor& grad_output) {
  SG_CHECK(root.defined(), "backward: called on an undefined tensor");
  SG_CHECK(root.requires_grad(),
           "backward: the tensor does not require grad and has no grad_fn (expected a result "
           "computed from tensors with requires_grad set, got shape ",
           shape_str(root.shape()), ")");
  if (!grad_output.defined()) {
    SG_CHECK(root.numel() == 1, "backward: grad_output can be implicit only for a one-element output; "
                                "expected a grad_output of shape ",
             shape_str(root.shape()), ", got none");
  } else {
    SG_CHECK(grad_output.shape() == root.shape(), "backward: grad_output has shape ",
             shape_str(grad_output.shape()), ", expected the output's shape ", shape_str(root.shape()));
    SG_CHECK(grad_output.dtype() == root.dtype() && grad_output.device() == root.device(),
             "backward: grad_output is ", dtype_name(grad_output.dtype()), " on ",
             grad_output.device().str(), ", expected ", dtype_name(root.dtype()), " on ",
             root.device().str());
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph) {
  check_root(root, grad_output);
  Tensor seed = grad_output.defined() ? grad_output : ones_like(root);
  NoGradGuard no_grad;  // gradients are plain tensors: no graph of the backward pass
  execute(gradient_edge(root), seed.detach(), retain_graph, {}, nullptr);
}

TensorList grad(const Tensor& output, const TensorList& inputs, const Tensor& grad_output,
                bool retain_graph) {
  check_root(output, grad_output);
  std::vector<Node*> capture;
  std::vector<std::shared_ptr<Node>> keep_alive;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    SG_CHECK(inputs[i].requires_grad(), "grad: input ", i, " does not require grad");
    keep_alive.push_back(gradient_edge(inputs[i]));
    capture.push_back(keep_alive.back().get());
  }
  TensorList captured(inputs.size());
  Tensor seed = grad_output.defined() ? grad_output : ones_like(output);
  NoGradGuard no_grad;
  execute(gradient_edge(output), seed.detach(), retain_graph, capture, &captured);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!captured[i].defined()) captured[i] = zeros_like(inputs[i]);  // input not reached
  return captured;
}

}  // namespace sg
