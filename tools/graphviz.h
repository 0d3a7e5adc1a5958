#pragma once
// Looking at an autograd graph: a text listing and a Graphviz DOT file.
// Each op node shows its name and output shape, plus the output's value and gradient
// when the tensor is still alive (and retain_grad() was asked for its gradient);
// each leaf shows its name, value and accumulated .grad.
#include <ostream>
#include <string>

#include "core/tensor.h"

namespace sg {

// One line per node, from `root` towards the leaves (iterative, any depth).
void print_graph(const Tensor& root, std::ostream& os);
// The same graph in DOT: `dot -Tpng graph.dot -o graph.png` draws it.
void write_dot(const Tensor& root, std::ostream& os);
// Writes the DOT text to `path` atomically (temporary file, then rename).
void write_dot_file(const Tensor& root, const std::string& path);

}  // namespace sg
