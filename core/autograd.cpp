#include "core/autograd.h"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <queue>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace sg {

// ---- grad mode --------------------------------------------------------------------
namespace {
thread_local bool t_grad_enabled = true;
thread_local uint64_t t_next_sequence_nr = 0;
bool g_detect_anomaly = false;
thread_local std::ostream* t_engine_trace = nullptr;
}  // namespace

bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool enabled) { t_grad_enabled = enabled; }
void set_detect_anomaly(bool enabled) { g_detect_anomaly = enabled; }
bool detect_anomaly() { return g_detect_anomaly; }
void set_engine_trace(std::ostream* out) { t_engine_trace = out; }
std::ostream* engine_trace() { return t_engine_trace; }

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

TensorList Node::apply(const Tensor& grad_output, const std::vector<bool>& needs_input_grad) {
  SG_CHECK(!released_, "backward through '", name_,
           "' a second time: its saved tensors were freed after the first backward. "
           "Pass retain_graph=true to the first backward() to keep them.");
  return backward_(grad_output, needs_input_grad);
}

void Node::release() {
  backward_ = nullptr;  // drops the saved tensors captured by the backward function
  released_ = true;
}

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> leaf)
    : Node("AccumulateGrad", nullptr), leaf_(std::move(leaf)) {}

TensorList AccumulateGrad::apply(const Tensor& grad_output, const std::vector<bool>&) {
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

// Phase 1: every node reachable from the root, in discovery order (a FIFO worklist over
// next_edges), and for each the number of edges that lead into it.
struct Reachable {
  std::vector<Node*> order;
  std::unordered_map<Node*, int> dependencies;
};

Reachable find_reachable(Node* root) {
  Reachable graph{{root}, {}};
  std::unordered_set<Node*> seen{root};
  for (std::size_t k = 0; k < graph.order.size(); ++k)
    for (const Edge& edge : graph.order[k]->next_edges) {
      if (!edge.node) continue;
      ++graph.dependencies[edge.node.get()];
      if (seen.insert(edge.node.get()).second) graph.order.push_back(edge.node.get());
    }
  return graph;
}

// A backward limited to some target nodes (grad()'s inputs, backward_into(inputs)'s leaves):
// a node runs only if a target lies at or below it, and asks only for the input
// gradients that lead to one (a convolution whose weight leads to no target skips its
// weight-gradient product). Needed nodes only have needed parents, so skipping the
// others loses nothing.
class Pruning {
 public:
  Pruning(const std::vector<Node*>& targets, const Reachable& graph) : needed_(targets.begin(), targets.end()) {
    // Every node from which a target can be reached: walk the edges backwards from the
    // targets, once.
    std::unordered_map<Node*, std::vector<Node*>> parents;
    for (Node* node : graph.order)
      for (const Edge& edge : node->next_edges)
        if (edge.node) parents[edge.node.get()].push_back(node);
    std::vector<Node*> work(targets.begin(), targets.end());
    while (!work.empty()) {
      Node* node = work.back();
      work.pop_back();
      auto it = parents.find(node);
      if (it == parents.end()) continue;
      for (Node* parent : it->second)
        if (needed_.insert(parent).second) work.push_back(parent);
    }
  }
  bool needed(Node* node) const { return needed_.count(node) != 0; }
  bool leads_to_needed(Node* node) const {
    for (const Edge& edge : node->next_edges)
      if (edge.node && needed_.count(edge.node.get())) return true;
    return false;
  }

 private:
  std::unordered_set<Node*> needed_;
};

// grad()'s capture mode: the gradients arriving at the `targets` are stored in `captured`
// instead of running them; no .grad is touched.
class Capture {
 public:
  Capture(std::vector<Node*> targets, TensorList* captured) : targets_(std::move(targets)), captured_(captured) {}

  // Stores the node's gradient if it is a target; says whether its backward must still
  // run (a sink never does; a target with another target below it does).
  bool take(Node* node, const Tensor& grad_output, const Pruning& pruning) {
    for (std::size_t i = 0; i < targets_.size(); ++i)
      if (targets_[i] == node) (*captured_)[i] = grad_output;
    return !dynamic_cast<AccumulateGrad*>(node) && pruning.leads_to_needed(node);
  }

 private:
  std::vector<Node*> targets_;
  TensorList* captured_;
};

// Which of the node's inputs need a gradient: those with an edge, and under pruning
// those whose edge leads to a target.
std::vector<bool> needs_input_grad(const Node& node, const Pruning* pruning) {
  std::vector<bool> needs(node.next_edges.size());
  for (std::size_t i = 0; i < needs.size(); ++i) {
    Node* next = node.next_edges[i].node.get();
    needs[i] = next != nullptr && (!pruning || pruning->needed(next));
  }
  return needs;
}

// retain_grad() on a non-leaf: its .grad accumulates the gradient of its output.
void retain_output_grad(Node* node, const Tensor& grad_output) {
  auto output = node->output.lock();
  if (!output || !output->retains_grad) return;
  if (!output->grad) output->grad = grad_output.clone().impl_ptr();
  else Tensor(output->grad).add_(grad_output);
}

// Runs one node's backward and checks that it returned one gradient per input.
TensorList apply_node(Node* node, const Tensor& grad_output, bool retain_graph, const Pruning* pruning) {
  if (!grad_output.defined()) return {};
  TensorList input_grads = node->apply(grad_output, needs_input_grad(*node, pruning));
  if (!retain_graph) node->release();
  const bool is_sink = dynamic_cast<AccumulateGrad*>(node) != nullptr;
  SG_CHECK(is_sink || input_grads.size() == node->next_edges.size(), "backward of '", node->name(), "' returned ",
           input_grads.size(), " gradients, expected ", node->next_edges.size(), " (one per input)");
  return input_grads;
}

// Adds input_grads[i] into the buffer of the node behind edge i.
void send_gradients(Node* node, const TensorList& input_grads, std::unordered_map<Node*, Tensor>& buffers) {
  for (std::size_t i = 0; i < node->next_edges.size() && i < input_grads.size(); ++i) {
    Node* next = node->next_edges[i].node.get();
    if (!next || !input_grads[i].defined()) continue;
    validate_gradient(*node, i, input_grads[i]);
    Tensor& buffer = buffers[next];
    buffer = buffer.defined() ? buffer.add(input_grads[i]) : input_grads[i];
  }
}

// The engine trace (set_engine_trace): what execute() does, in words. Every member
// returns at once when no stream is set, so the engine pays one pointer test per call.
// Nodes are labelled "[k] op -> output name" (k: phase 1's discovery order), leaves'
// sinks "[k] AccumulateGrad(leaf name)"; small gradients are printed with their values.
class EngineTracer {
 public:
  EngineTracer(std::ostream* out, const Reachable& graph, bool retain_graph, bool pruning, bool capturing)
      : out_(out), retain_graph_(retain_graph) {
    if (!out_) return;
    for (std::size_t k = 0; k < graph.order.size(); ++k) index_[graph.order[k]] = k;
    std::size_t width = 0;
    for (Node* node : graph.order) width = std::max(width, label(node).size());
    const char* mode = capturing ? " (grad(): no .grad is written)"
                       : pruning ? " (backward_into: only the named leaves' .grad is written)"
                                 : "";
    *out_ << "engine: backward from " << label(graph.order[0]) << mode
          << "\nphase 1: count the edges into every node reachable from the root (breadth-first)\n";
    for (Node* node : graph.order) {
      auto it = graph.dependencies.find(node);
      const int edges_in = it == graph.dependencies.end() ? 0 : it->second;
      const std::string name = label(node);
      *out_ << "  " << name << std::string(width - name.size(), ' ') << "  " << edges_in
            << (edges_in == 1 ? " edge in\n" : " edges in\n");
    }
    *out_ << "phase 2: a node runs once all its edges have delivered; among ready nodes the latest created first\n";
  }

  void skip(Node* node) {
    if (!out_) return;
    *out_ << "  not run: " << label(node) << " (only the nodes above the inputs asked for run)\n";
  }

  // Before the node's backward runs: what it received, and what it will do with it.
  void run(Node* node, const Tensor& grad_output) {
    if (!out_) return;
    *out_ << "  run " << label(node) << " with gradient " << describe(grad_output);
    if (auto* sink = dynamic_cast<AccumulateGrad*>(node)) {
      const std::string leaf = sink->leaf()->name.empty() ? "the leaf's" : sink->leaf()->name;
      *out_ << (sink->leaf()->grad ? ": adds it to " + leaf + ".grad\n" : ": " + leaf + ".grad was empty, stores a copy\n");
      return;
    }
    *out_ << (retain_graph_ ? " (retain_graph: its saved tensors are kept)\n" : ", then frees its saved tensors\n");
  }

  // After the node ran: where the gradient for input `i` went, and how many edges its
  // target still waits for.
  void send(std::size_t i, Node* target, const TensorList& input_grads, int still_waiting) {
    if (!out_) return;
    *out_ << "    input " << i << " -> " << label(target) << ": ";
    if (i < input_grads.size() && input_grads[i].defined()) {
      const int arrived = ++arrived_[target];
      *out_ << (arrived == 1 ? "starts its buffer" : "added to its buffer (" + std::to_string(arrived) + " gradients summed)");
    } else {
      *out_ << "no gradient";
    }
    *out_ << "; waits for " << still_waiting << (still_waiting == 1 ? " more edge" : " more edges")
          << (still_waiting == 0 ? ": ready\n" : "\n");
  }

  void finish(int ran) {
    if (!out_) return;
    *out_ << "done: " << ran << (ran == 1 ? " node ran\n" : " nodes ran\n");
  }

 private:
  std::string label(Node* node) const {
    auto it = index_.find(node);
    std::string text = "[" + (it == index_.end() ? std::string("?") : std::to_string(it->second)) + "] ";
    if (auto* sink = dynamic_cast<AccumulateGrad*>(node))
      return text + "AccumulateGrad(" + (sink->leaf()->name.empty() ? "leaf " + shape_str(sink->leaf()->shape) : sink->leaf()->name) + ")";
    text += node->name();
    if (auto output = node->output.lock(); output && !output->name.empty()) text += " -> " + output->name;
    return text;
  }

  // "[2] {3, 5}": the shape, and the values when there are at most 6.
  static std::string describe(const Tensor& t) {
    if (!t.defined()) return "(none)";
    std::ostringstream text;
    text << shape_str(t.shape());
    if (t.numel() <= 6) {
      text << " {";
      std::vector<double> values = t.to(DType::Float64).to_vector<double>();
      for (std::size_t k = 0; k < values.size(); ++k) text << (k ? ", " : "") << values[k];
      text << "}";
    }
    return text.str();
  }

  std::ostream* out_;
  bool retain_graph_;
  std::unordered_map<Node*, std::size_t> index_;
  std::unordered_map<Node*, int> arrived_;
};

// Runs backward from `root` with gradient `root_grad` (Kahn's algorithm): a node runs
// once every edge into it has delivered its gradient, summed in the node's buffer;
// among ready nodes the most recently created runs first. With a `pruning` (grad(),
// backward_into(inputs)), only the nodes it needs run; with a `capture` (grad()), the targets'
// gradients are captured instead of accumulated.
void execute(Node* root, const Tensor& root_grad, bool retain_graph, Reachable graph, const Pruning* pruning,
             Capture* capture) {
  EngineTracer trace(engine_trace(), graph, retain_graph, pruning != nullptr, capture != nullptr);
  std::unordered_map<Node*, Tensor> buffers{{root, root_grad}};
  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  ready.push(root);
  int ran = 0;
  while (!ready.empty()) {  // phase 2
    Node* node = ready.top();
    ready.pop();
    Tensor grad_output = std::move(buffers[node]);
    buffers.erase(node);
    if ((pruning && !pruning->needed(node)) || (capture && !capture->take(node, grad_output, *pruning))) {
      trace.skip(node);
      continue;
    }
    if (!pruning && grad_output.defined()) retain_output_grad(node, grad_output);  // grad(), backward_into: only the inputs
    trace.run(node, grad_output);
    ++ran;
    const TensorList input_grads = apply_node(node, grad_output, retain_graph, pruning);
    send_gradients(node, input_grads, buffers);
    for (std::size_t i = 0; i < node->next_edges.size(); ++i) {
      Node* next = node->next_edges[i].node.get();
      if (!next) continue;
      const int still_waiting = --graph.dependencies[next];
      if (still_waiting == 0) ready.push(next);
      trace.send(i, next, input_grads, still_waiting);
    }
  }
  trace.finish(ran);
}

// The nodes that gradients for `inputs` flow into (kept alive while backward runs).
std::vector<std::shared_ptr<Node>> input_nodes(const TensorList& inputs, const char* caller) {
  std::vector<std::shared_ptr<Node>> nodes;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    SG_CHECK(inputs[i].defined() && inputs[i].requires_grad(), caller, ": input ", i,
             " does not require grad (expected tensors that require grad)");
    nodes.push_back(gradient_edge(inputs[i]));
  }
  return nodes;
}

std::vector<Node*> raw(const std::vector<std::shared_ptr<Node>>& nodes) {
  std::vector<Node*> pointers;
  for (const auto& node : nodes) pointers.push_back(node.get());
  return pointers;
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

void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph, const TensorList& inputs) {
  check_root(root, grad_output);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    SG_CHECK(inputs[i].defined(), "backward_into(inputs): input ", i, " is an undefined Tensor (expected a leaf "
             "that requires grad)");
    SG_CHECK(inputs[i].is_leaf(), "backward_into(inputs): input ", i,
             " is not a leaf (expected tensors whose .grad backward fills, such as parameters; "
             "for the gradient of an intermediate tensor use grad())");
  }
  const std::vector<std::shared_ptr<Node>> sinks = input_nodes(inputs, "backward_into(inputs)");
  Tensor seed = grad_output.defined() ? grad_output : ones_like(root);
  NoGradGuard no_grad;  // gradients are plain tensors: no graph of the backward pass
  const std::shared_ptr<Node> start = gradient_edge(root);  // a leaf's sink lives only while held
  Reachable graph = find_reachable(start.get());            // phase 1
  if (inputs.empty()) return execute(start.get(), seed.detach(), retain_graph, std::move(graph), nullptr, nullptr);
  const Pruning pruning(raw(sinks), graph);
  execute(start.get(), seed.detach(), retain_graph, std::move(graph), &pruning, nullptr);
}

TensorList grad(const Tensor& output, const TensorList& inputs, const Tensor& grad_output,
                bool retain_graph) {
  check_root(output, grad_output);
  const std::vector<std::shared_ptr<Node>> targets = input_nodes(inputs, "grad");
  TensorList captured(inputs.size());
  Tensor seed = grad_output.defined() ? grad_output : ones_like(output);
  NoGradGuard no_grad;
  std::shared_ptr<Node> root = gradient_edge(output);
  Reachable graph = find_reachable(root.get());
  const Pruning pruning(raw(targets), graph);
  Capture capturing(raw(targets), &captured);
  execute(root.get(), seed.detach(), retain_graph, std::move(graph), &pruning, &capturing);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!captured[i].defined()) captured[i] = zeros_like(inputs[i]);  // input not reached
  return captured;
}

}  // namespace sg
