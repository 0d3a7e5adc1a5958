#pragma once
// The autograd graph and its engine.
//
// Every differentiable op that runs with grad mode on and at least one input that
// requires grad records a Node. The node holds:
//   - a backward function: gradient of the loss w.r.t. the op's output ->
//     gradients w.r.t. each of its inputs (written next to the forward in ops/);
//   - one Edge per input, pointing at the Node that produced that input (or at
//     the input's AccumulateGrad node when the input is a leaf);
//   - the shape/dtype/device each input gradient must have (checked in one place).
// Saved tensors are stored detached (no grad_fn), so a node never owns its own
// output's history: the graph has no reference cycles.
//
// run_backward() walks the graph iteratively: it counts, for every node, how many
// edges lead into it, sums incoming gradients in a per-node buffer, and runs a node
// once all its gradients have arrived (Kahn's algorithm; no recursion).
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sg {

// ---- grad mode -----------------------------------------------------------------
class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

// RAII: no graph is recorded while it lives (thread-local).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Anomaly mode: after each node's backward, check its gradients for NaN/Inf and
// name the op that produced them.
void set_detect_anomaly(bool enabled);
bool detect_anomaly();

// Engine trace, for learning how backward runs: while a stream is set (per thread),
// the engine writes to it what it does, in words: every node it can reach with the
// number of edges that lead into it (phase 1), then each node as it runs, the gradient
// it received, and where each of its input gradients goes (a buffer started or added
// to, how many edges that node still waits for, ready or not). Off by default; off, it
// costs the engine one pointer test per node. docs/learn/02-the-engine.md reads one.
void set_engine_trace(std::ostream* out);  // nullptr: off
std::ostream* engine_trace();

// RAII: traces the engine into `out` while it lives, then restores the previous stream.
class EngineTraceGuard {
 public:
  explicit EngineTraceGuard(std::ostream& out) : previous_(engine_trace()) { set_engine_trace(&out); }
  ~EngineTraceGuard() { set_engine_trace(previous_); }
  EngineTraceGuard(const EngineTraceGuard&) = delete;
  EngineTraceGuard& operator=(const EngineTraceGuard&) = delete;

 private:
  std::ostream* previous_;
};

// ---- saved tensors --------------------------------------------------------------
// A tensor kept for backward, with the storage version it had when saved. get()
// refuses to hand it back if it was modified in place since.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t, std::string op_name);
  const Tensor& get() const;
  bool defined() const { return tensor_.defined(); }

 private:
  Tensor tensor_;            // detached: shares storage, no history
  uint64_t saved_version_ = 0;
  std::string op_name_;
};

// ---- the graph --------------------------------------------------------------------
struct Edge {
  std::shared_ptr<Node> node;  // null: this input needs no gradient
};

struct InputMeta {
  Shape shape;
  DType dtype;
  Device device;
};

using TensorList = std::vector<Tensor>;
// (grad_output, which inputs need a gradient) -> one gradient per input
// (an undefined Tensor where none is needed).
using BackwardFn = std::function<TensorList(const Tensor& grad_output,
                                            const std::vector<bool>& needs_input_grad)>;

class Node {
 public:
  Node(std::string name, BackwardFn backward);
  virtual ~Node();  // iterative: long chains are freed without deep recursion

  const std::string& name() const { return name_; }
  // Gradients for the inputs whose needs_input_grad is set (the engine decides: an
  // input with no edge, or whose edge leads to nothing asked for, needs none); throws if
  // the saved tensors were already freed.
  virtual TensorList apply(const Tensor& grad_output, const std::vector<bool>& needs_input_grad);
  // Drops the saved tensors (after a backward without retain_graph).
  virtual void release();
  bool released() const { return released_; }

  std::vector<Edge> next_edges;        // one per input of the op
  std::vector<InputMeta> input_meta;   // one per input of the op
  uint64_t sequence_nr = 0;            // creation order: later ops run first
  std::weak_ptr<TensorImpl> output;    // the op's output (retain_grad, graph printing)

 protected:
  std::string name_;
  BackwardFn backward_;
  bool released_ = false;
};

// The sink node of a leaf that requires grad: adds the incoming gradient to .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf);
  TensorList apply(const Tensor& grad_output, const std::vector<bool>& needs_input_grad) override;
  void release() override {}  // holds nothing that backward frees
  const std::shared_ptr<TensorImpl>& leaf() const { return leaf_; }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// The node a gradient for `t` flows into: its grad_fn, its AccumulateGrad when it is
// a leaf that requires grad, or null.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

// True when an op on these inputs must be recorded.
bool any_requires_grad(const TensorList& inputs);

// Records `output` as produced by op `name` from `inputs`. Does nothing when grad
// mode is off or no input requires grad. Returns output for chaining.
Tensor record(const char* name, const TensorList& inputs, const Tensor& output, BackwardFn backward);

// Saves a tensor for backward (a detached alias plus its version).
inline SavedTensor save(const Tensor& t, const char* op_name) { return SavedTensor(t, op_name); }

// The engine. `grad_output` may be undefined only when `root` has one element. With
// `inputs` (leaves that require grad), only their .grad is written (not even a
// retain_grad() result's), and only the nodes above them run, each asked only for the
// input gradients that lead to them (PyTorch's backward(inputs=...)): a GAN's G step,
// backward into G's parameters, skips D's weight-gradient products.
void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph, const TensorList& inputs = {});

// Gradients of `outputs` w.r.t. `inputs` without touching any .grad (used by gradcheck).
TensorList grad(const Tensor& output, const TensorList& inputs, const Tensor& grad_output,
                bool retain_graph = true);

}  // namespace sg
