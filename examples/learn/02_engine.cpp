// Lesson 2 (docs/learn/02-the-engine.md): how the engine runs backward.
//
// For L = sum(x * x + x), x = [1, 2], the engine's trace (set_engine_trace) shows phase 1
// (count the edges into every node) and phase 2 (run a node once all its gradients have
// arrived, summed in its buffer). The exercise is phase 1 itself: count the edges by
// walking next_edges. Then the version counter stops a backward that would read a
// tensor modified in place, and a freed graph refuses a second backward.
//
//   build/examples/learn/02_engine
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "examples/common/cli.h"
#include "examples/learn/learn.h"
#include "ops/ops.h"

using namespace sg;

namespace {

// For every node reachable from `root`, the number of edges that lead into it: what
// the engine's phase 1 counts before anything runs. The root has none.
std::map<const Node*, int> count_edges_in(const Node* root) {
  // BEGIN EXERCISE count_edges_in
  // Breadth-first over next_edges. A node is queued the first time an edge reaches it,
  // but every edge into it counts (x * x gives mul two edges into x's AccumulateGrad).
  std::map<const Node*, int> edges_in{{root, 0}};
  std::vector<const Node*> queue{root};
  for (std::size_t k = 0; k < queue.size(); ++k)
    for (const Edge& edge : queue[k]->next_edges) {
      if (!edge.node) continue;  // an input that needs no gradient: no edge
      if (!edges_in.count(edge.node.get())) queue.push_back(edge.node.get());
      ++edges_in[edge.node.get()];
    }
  return edges_in;
  // END EXERCISE
}

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Lesson 2: the engine traced step by step; dependency counts, buffers, version counters"};
  bool retain_graph = false;
  app.add_flag("--retain-graph", retain_graph, "trace a backward that keeps the saved tensors");
  CLI11_PARSE(app, argc, argv);

  return examples::run_main("02_engine", [&] {
    learn::SelfCheck check(2);
    TensorOptions leaf{DType::Float64, Device::cpu(), true};
    Tensor x = tensor({1.0, 2.0}, leaf).set_name("x");
    Tensor a = (x * x).set_name("a");
    Tensor b = (a + x).set_name("b");
    Tensor loss = sum(b).set_name("L");

    check.part("1. Phase 1 by hand (the exercise): how many edges lead into each node?", [&] {
      // Derived from the graph: sum is the root (0); add is used once, by sum (1); mul once,
      // by add (1); x three times: once by add, twice by mul (x * x) (3).
      const Node* sum_node = loss.grad_fn().get();
      const Node* add_node = b.grad_fn().get();
      const Node* mul_node = a.grad_fn().get();
      const Node* x_sink = gradient_edge(x).get();  // x's AccumulateGrad
      const std::map<const Node*, int> counted = count_edges_in(sum_node);
      const std::vector<std::pair<const Node*, std::pair<const char*, int>>> expected{
          {sum_node, {"sum -> L", 0}}, {add_node, {"add -> b", 1}}, {mul_node, {"mul -> a", 1}},
          {x_sink, {"AccumulateGrad(x)", 3}}};
      for (const auto& [node, name_and_count] : expected) {
        auto it = counted.find(node);
        const int got = it == counted.end() ? -1 : it->second;
        check.expect(got == name_and_count.second,
                     std::string(name_and_count.first) + ": " + std::to_string(name_and_count.second) +
                         (name_and_count.second == 1 ? " edge in" : " edges in") + ", you counted " +
                         (got < 0 ? std::string("nothing (the node was never reached)") : std::to_string(got)),
                     "count every edge, also a second edge into a node already queued; the root has 0");
      }
      check.expect(counted.size() == 4, "4 nodes are reachable from L, you found " + std::to_string(counted.size()));
    });

    check.part("2. The engine's trace of L.backward() (phase 1, then phase 2 node by node):", [&] {
      {
        EngineTraceGuard tracing(std::cout);
        loss.backward(Tensor(), retain_graph);
      }
      // The buffer of x summed three gradients: [1, 1] from add, [1, 2] twice from mul.
      const std::vector<double> grad = x.grad().to_vector<double>();
      check.expect(grad == std::vector<double>{3, 5}, "x.grad = 2x + 1 = [3, 5], the sum of its buffer's 3 gradients");
    });

    check.part("3. Version counters: a tensor saved for backward and then modified in place.", [&] {
      Tensor scale = tensor({10.0, 20.0}, {DType::Float64}).set_name("scale");  // a constant
      Tensor y = sum(x * scale);  // mul saves scale: dL/dx = g * scale
      std::printf("   scale's storage version after the forward: %llu\n",
                  static_cast<unsigned long long>(scale.storage().version()));
      scale.mul_(1.1);  // in place: bumps the version, and dL/dx would silently use 11, 22
      std::printf("   after scale.mul_(1.1): %llu\n", static_cast<unsigned long long>(scale.storage().version()));
      const std::string error = message_of([&] { y.backward(); });
      std::printf("   backward says: %s\n", error.c_str());
      check.expect(error.find("modified by an in-place operation") != std::string::npos,
                   "backward refuses to use a saved tensor whose version moved on");
    });

    check.part("4. A second backward through the same graph.", [&] {
      const std::string error = message_of([&] { loss.backward(); });
      if (retain_graph) {
        const std::vector<double> grad = x.grad().to_vector<double>();
        std::printf("   (with --retain-graph the saved tensors were kept: the second backward ran)\n");
        check.expect(error.empty(), "a second backward runs when the first kept the graph", error);
        // .grad accumulates across backward calls: [3, 5] twice.
        check.expect(grad == std::vector<double>{6, 10}, "x.grad is now [3, 5] + [3, 5] = [6, 10]");
      } else {
        std::printf("   backward says: %s\n", error.c_str());
        check.expect(error.find("a second time") != std::string::npos,
                     "the first backward freed the saved tensors, so a second one is refused");
      }
    });
    return check.finish();
  });
}
