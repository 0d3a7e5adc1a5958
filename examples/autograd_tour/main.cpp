// A tour of autograd for learners.
//
// Builds  L = sum(tanh(w * x + b))  for small tensors, runs backward, prints every
// node of the graph with its value and gradient, checks the gradients against the
// formula worked out by hand and against gradcheck, and (with --dot FILE) writes
// the graph for Graphviz:  dot -Tpng graph.dot -o graph.png
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "../common/cli.h"
#include "ops/ops.h"
#include "tools/gradcheck.h"
#include "tools/graphviz.h"

using namespace sg;
using namespace sg::examples;

int main(int argc, char** argv) {
  CLI::App app{"A tour of autograd: one small graph, its gradients by hand, by autograd and by gradcheck"};
  std::string dot_path;
  app.add_option("--dot", dot_path, "also write the graph to this file for Graphviz (dot -Tpng FILE -o graph.png)");
  CLI11_PARSE(app, argc, argv);

  return run_main("autograd_tour", [&] {
    TensorOptions leaf{DType::Float64, Device::cpu(), true};
    Tensor w = tensor({0.5, -1.0, 2.0}, leaf).set_name("w");
    Tensor x = tensor({1.0, 2.0, -0.5}, {DType::Float64}).set_name("x");
    Tensor b = tensor({0.1}, leaf).set_name("b");

    std::cout << "1. The forward pass records one node per op.\n";
    Tensor wx = (w * x).set_name("wx");
    Tensor z = (wx + b).set_name("z");
    Tensor h = tanh(z).set_name("h");
    Tensor loss = sum(h).set_name("L");
    for (const Tensor* t : {&wx, &z, &h}) t->retain_grad();  // keep intermediate gradients to show them
    std::cout << "   L = " << loss.item() << "\n\n";

    std::cout << "2. backward() walks the graph from L to the leaves.\n";
    loss.backward();
    print_graph(loss, std::cout);

    std::cout << "\n3. Check by hand: dL/dz = 1 - tanh(z)^2, dL/dw = dL/dz * x, dL/db = sum(dL/dz).\n";
    Tensor dz = 1.0 - pow(h.detach(), 2);
    std::cout << "   by hand dL/dw = " << dz * x << "\n";
    std::cout << "   autograd w.grad = " << w.grad() << "\n";
    std::cout << "   by hand dL/db = " << sum(dz).item() << ", autograd b.grad = " << b.grad().item() << "\n";

    std::cout << "\n4. gradcheck compares with central differences: ";
    GradcheckResult check = gradcheck(
        [&x](const TensorList& in) { return sum(tanh(in[0] * x + in[1])); }, {w, b});
    std::cout << (check.passed ? "passed" : "FAILED: " + check.report) << " (max abs error " << check.max_abs_error
              << ")\n";

    if (!dot_path.empty()) {
      write_dot_file(loss, dot_path);
      std::cout << "\nWrote the graph to " << dot_path << " (render: dot -Tpng " << dot_path << " -o graph.png)\n";
    }
    return check.passed ? 0 : 1;
  });
}
