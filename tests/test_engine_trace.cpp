// The engine trace (set_engine_trace, EngineTraceGuard): the text it prints for a
// tiny graph, checked line by line against the run worked out by hand below.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "ops/ops.h"

using namespace sg;

namespace {

// L = sum(x * x + x) with x = [1, 2]; the lesson's graph (docs/learn/02-the-engine.md).
struct TinyGraph {
  Tensor x = tensor({1.0, 2.0}, {DType::Float64, Device::cpu(), true}).set_name("x");
  Tensor a = (x * x).set_name("a");
  Tensor b = (a + x).set_name("b");
  Tensor loss = sum(b).set_name("L");
};

}  // namespace

TEST_CASE("the engine trace prints dependency counts, then each node as it runs, for a tiny graph") {
  // By hand. Phase 1 walks breadth-first from sum: sum (nothing leads into the root),
  // add (1 edge, from sum), then add's inputs in order: mul (1 edge, from add) and x's
  // AccumulateGrad, reached by add's second input and by both inputs of mul: 3 edges.
  // Phase 2: sum gets the seed 1 and sends [1, 1] to add (add: 0 left, ready). add sends
  // [1, 1] to mul (ready) and [1, 1] to x (2 edges still to come). mul's backward is
  // g * x = [1, 2] for each of its two inputs, both x: after the second, x's buffer
  // holds [1, 1] + [1, 2] + [1, 2] = [3, 5] = 2x + 1, and it runs last.
  TinyGraph g;
  std::ostringstream trace;
  {
    EngineTraceGuard tracing(trace);
    g.loss.backward();
  }
  const std::string expected =
      "engine: backward from [0] sum -> L\n"
      "phase 1: count the edges into every node reachable from the root (breadth-first)\n"
      "  [0] sum -> L           0 edges in\n"
      "  [1] add -> b           1 edge in\n"
      "  [2] mul -> a           1 edge in\n"
      "  [3] AccumulateGrad(x)  3 edges in\n"
      "phase 2: a node runs once all its edges have delivered; among ready nodes the latest created first\n"
      "  run [0] sum -> L with gradient [] {1}, then frees its saved tensors\n"
      "    input 0 -> [1] add -> b: starts its buffer; waits for 0 more edges: ready\n"
      "  run [1] add -> b with gradient [2] {1, 1}, then frees its saved tensors\n"
      "    input 0 -> [2] mul -> a: starts its buffer; waits for 0 more edges: ready\n"
      "    input 1 -> [3] AccumulateGrad(x): starts its buffer; waits for 2 more edges\n"
      "  run [2] mul -> a with gradient [2] {1, 1}, then frees its saved tensors\n"
      "    input 0 -> [3] AccumulateGrad(x): added to its buffer (2 gradients summed); waits for 1 more edge\n"
      "    input 1 -> [3] AccumulateGrad(x): added to its buffer (3 gradients summed); waits for 0 more edges: "
      "ready\n"
      "  run [3] AccumulateGrad(x) with gradient [2] {3, 5}: x.grad was empty, stores a copy\n"
      "done: 4 nodes ran\n";
  CHECK(trace.str() == expected);
  CHECK(g.x.grad().to_vector<double>() == std::vector<double>{3, 5});
}

TEST_CASE("the engine trace says when saved tensors are kept and when .grad is added to") {
  TinyGraph g;
  g.loss.backward(Tensor(), /*retain_graph=*/true);  // untraced: x.grad = [3, 5]
  std::ostringstream trace;
  {
    EngineTraceGuard tracing(trace);
    g.loss.backward(Tensor(), true);
  }
  const std::string text = trace.str();
  CHECK(text.find("  run [0] sum -> L with gradient [] {1} (retain_graph: its saved tensors are kept)\n") !=
        std::string::npos);
  CHECK(text.find("  run [3] AccumulateGrad(x) with gradient [2] {3, 5}: adds it to x.grad\n") != std::string::npos);
  CHECK(g.x.grad().to_vector<double>() == std::vector<double>{6, 10});  // [3, 5] twice
}

TEST_CASE("the engine trace is off by default and the guard restores the previous stream") {
  CHECK(engine_trace() == nullptr);
  std::ostringstream outer, inner;
  {
    EngineTraceGuard tracing_outer(outer);
    {
      EngineTraceGuard tracing_inner(inner);
      CHECK(engine_trace() == &inner);
    }
    CHECK(engine_trace() == &outer);
  }
  CHECK(engine_trace() == nullptr);
  TinyGraph g;
  g.loss.backward();  // nothing traced anywhere
  CHECK(outer.str().empty());
  CHECK(inner.str().empty());
}

TEST_CASE("the engine trace in grad() names the nodes it does not run") {
  // grad(L, {a}) needs only sum, add and mul's output: mul is the target (captured,
  // not run), so x's sink is never reached and x.grad stays empty.
  TinyGraph g;
  std::ostringstream trace;
  TensorList grads;
  {
    EngineTraceGuard tracing(trace);
    grads = grad(g.loss, {g.a}, Tensor());
  }
  const std::string text = trace.str();
  CHECK(text.find("engine: backward from [0] sum -> L (grad(): no .grad is written)\n") == 0);
  CHECK(text.find("  not run: [2] mul -> a (only the nodes above the inputs asked for run)\n") !=
        std::string::npos);
  CHECK(text.find("done: 2 nodes ran\n") != std::string::npos);
  CHECK(grads[0].to_vector<double>() == std::vector<double>{1, 1});
  CHECK_FALSE(g.x.grad().defined());
}

TEST_CASE("the engine trace in backward_into says so and names the sink it does not run") {
  // L = sum(x * w), backward into x only: mul runs, x's sink runs, w's sink does not.
  Tensor x = tensor({1.0, 2.0}, {DType::Float64, Device::cpu(), true}).set_name("x");
  Tensor w = tensor({3.0, 4.0}, {DType::Float64, Device::cpu(), true}).set_name("w");
  Tensor loss = sum(x * w).set_name("L");
  std::ostringstream trace;
  {
    EngineTraceGuard tracing(trace);
    loss.backward_into({x});
  }
  const std::string text = trace.str();
  CHECK(text.find("engine: backward from [0] sum -> L (backward_into: only the named leaves' .grad is written)\n") == 0);
  CHECK(text.find("  not run: [3] AccumulateGrad(w) (only the nodes above the inputs asked for run)\n") !=
        std::string::npos);
  CHECK(text.find("done: 3 nodes ran\n") != std::string::npos);
  CHECK_FALSE(w.grad().defined());
}
