// Lesson 1 (docs/learn/01-a-scalar-expression.md): one scalar expression,
//     L = tanh(x * y) + x * x,
// its graph printed and drawn, and its gradients twice: by hand (the exercise) and by
// backward(). The check says whether the two agree.
//
//   build/examples/learn/01_scalar [--x 1.5] [--y -0.5] [--out out/learn]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "examples/common/cli.h"
#include "examples/learn/learn.h"
#include "ops/ops.h"
#include "tools/graphviz.h"

using namespace sg;

namespace {

struct HandGradients {
  double dL_dx;
  double dL_dy;
};

// dL/dx and dL/dy of L = tanh(x * y) + x * x, worked out with the chain rule.
HandGradients hand_gradients(double x, double y) {
  // BEGIN EXERCISE hand_gradients
  // Name the steps as the graph does: u = x * y, v = tanh(u), w = x * x, L = v + w.
  //   dL/dv = dL/dw = 1;  dv/du = 1 - tanh(u)^2 = 1 - v^2;  du/dx = y, du/dy = x;  dw/dx = 2x.
  // x reaches L along two paths (through u and through w): their contributions add.
  const double v = std::tanh(x * y);
  return {(1 - v * v) * y + 2 * x, (1 - v * v) * x};
  // END EXERCISE
}

// Draws the DOT file as a PNG when Graphviz's `dot` is installed; says how otherwise.
void draw(const std::string& dot_path) {
  const std::string png_path = dot_path.substr(0, dot_path.size() - 4) + ".png";
  const std::string render = "dot -Tpng " + dot_path + " -o " + png_path;
  if (std::system("command -v dot >/dev/null 2>&1") == 0 && std::system(render.c_str()) == 0) {
    std::printf("   drew it: %s\n", png_path.c_str());
  } else {
    std::printf("   Graphviz's `dot` is not installed, so no PNG (apt-get install graphviz, then: %s)\n",
                render.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Lesson 1: a scalar expression, its graph, and its gradients by hand and by backward()"};
  double x_value = 1.5, y_value = -0.5;
  std::string out_dir = "out/learn";
  app.add_option("--x", x_value, "the value of x");
  app.add_option("--y", y_value, "the value of y");
  app.add_option("--out", out_dir, "directory for the graph's DOT file (and PNG, with Graphviz)");
  CLI11_PARSE(app, argc, argv);

  return examples::run_main("01_scalar", [&] {
    learn::SelfCheck check(1);
    examples::ensure_writable_dir(out_dir, "--out");

    // Leaves: float64 scalars that require grad. Names label the graph's nodes.
    TensorOptions leaf{DType::Float64, Device::cpu(), /*requires_grad=*/true};
    Tensor x = scalar_tensor(x_value, leaf).set_name("x");
    Tensor y = scalar_tensor(y_value, leaf).set_name("y");

    std::printf("1. The forward pass: each op computes its value and records a node.\n");
    Tensor u = (x * y).set_name("u");
    Tensor v = tanh(u).set_name("v");
    Tensor w = (x * x).set_name("w");
    Tensor loss = (v + w).set_name("L");
    for (const Tensor* t : {&u, &v, &w}) t->retain_grad();  // keep the intermediate gradients to print them
    std::printf("   x = %g, y = %g: u = x*y = %g, v = tanh(u) = %g, w = x*x = %g, L = v + w = %g\n", x_value,
                y_value, u.item(), v.item(), w.item(), loss.item());

    std::printf("\n2. backward() runs the graph from L back to x and y. Each line is a node:\n");
    loss.backward();
    print_graph(loss, std::cout);
    const std::string dot_path = out_dir + "/01_graph.dot";
    write_dot_file(loss, dot_path);
    std::printf("   wrote the graph for Graphviz: %s\n", dot_path.c_str());
    draw(dot_path);

    check.part("3. The check: your gradients by hand (the exercise) against backward()'s.", [&] {
      const HandGradients hand = hand_gradients(x_value, y_value);
      const double by_autograd[2] = {x.grad().item(), y.grad().item()};
      const double by_hand[2] = {hand.dL_dx, hand.dL_dy};
      const char* names[2] = {"dL/dx", "dL/dy"};
      for (int k = 0; k < 2; ++k) {
        // Both sides compute the same formula in float64, so they agree to rounding.
        const bool agree = std::abs(by_hand[k] - by_autograd[k]) <= 1e-12 * (1 + std::abs(by_autograd[k]));
        char line[160];
        std::snprintf(line, sizeof line, "%s by hand = %.10g, backward() says %.10g", names[k], by_hand[k],
                      by_autograd[k]);
        check.expect(agree, line,
                     k == 0 ? "x reaches L along two paths, through u = x*y and through w = x*x: add both"
                            : "y reaches L only through u = x*y: dL/dy = (1 - tanh(u)^2) * x");
      }
    });
    return check.finish();
  });
}
