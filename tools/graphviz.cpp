#include "tools/graphviz.h"

#include <cstdio>
#include <fstream>
#include <unordered_map>
#include <vector>

#include "core/autograd.h"

namespace sg {

namespace {

std::string brief_values(const Tensor& t) {
  if (!t.defined()) return "-";
  std::vector<double> v = t.to(DType::Float64).to_vector<double>();
  std::string s = t.numel() == 1 ? "" : "[";
  char buf[32];
  for (std::size_t i = 0; i < v.size() && i < 4; ++i) {
    std::snprintf(buf, sizeof buf, "%s%.4g", i ? ", " : "", v[i]);
    s += buf;
  }
  if (v.size() > 4) s += ", ...";
  return t.numel() == 1 ? s : s + "]";
}

struct GraphNode {
  const Node* node;
  std::string label;
  std::vector<const Node*> inputs;
};

// Nodes reachable from the root, each once, in discovery order (root first).
std::vector<GraphNode> collect(const Tensor& root) {
  std::vector<GraphNode> nodes;
  std::shared_ptr<Node> start = root.requires_grad() ? gradient_edge(root) : nullptr;
  if (!start) return nodes;
  std::unordered_map<const Node*, bool> seen{{start.get(), true}};
  std::vector<const Node*> stack{start.get()};
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    GraphNode entry{node, "", {}};
    if (auto* sink = dynamic_cast<const AccumulateGrad*>(node)) {
      Tensor leaf(sink->leaf());
      entry.label = str(leaf.name().empty() ? std::string("leaf") : leaf.name(), " ", shape_str(leaf.shape()),
                        " value=", brief_values(leaf), " grad=", brief_values(leaf.grad()));
    } else {
      entry.label = node->name();
      if (auto out = node->output.lock()) {
        Tensor t(out);
        if (!t.name().empty()) entry.label += str(" -> ", t.name());
        entry.label += str(" ", shape_str(t.shape()), " value=", brief_values(t));
        if (t.grad().defined()) entry.label += str(" grad=", brief_values(t.grad()));
      }
    }
    for (const Edge& e : node->next_edges) {
      if (!e.node) continue;
      entry.inputs.push_back(e.node.get());
      if (!seen[e.node.get()]) {
        seen[e.node.get()] = true;
        stack.push_back(e.node.get());
      }
    }
    nodes.push_back(std::move(entry));
  }
  return nodes;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

void print_graph(const Tensor& root, std::ostream& os) {
  std::vector<GraphNode> nodes = collect(root);
  if (nodes.empty()) {
    os << "(no graph: the tensor does not require grad)\n";
    return;
  }
  std::unordered_map<const Node*, std::size_t> id;
  for (std::size_t i = 0; i < nodes.size(); ++i) id[nodes[i].node] = i;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    os << "#" << i << " " << nodes[i].label;
    if (!nodes[i].inputs.empty()) {
      os << "  <- inputs:";
      for (const Node* in : nodes[i].inputs) os << " #" << id[in];
    }
    os << "\n";
  }
}

void write_dot(const Tensor& root, std::ostream& os) {
  std::vector<GraphNode> nodes = collect(root);
  std::unordered_map<const Node*, std::size_t> id;
  for (std::size_t i = 0; i < nodes.size(); ++i) id[nodes[i].node] = i;
  os << "digraph autograd {\n  rankdir=BT;\n  node [fontname=\"monospace\"];\n";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    bool leaf = dynamic_cast<const AccumulateGrad*>(nodes[i].node) != nullptr;
    os << "  n" << i << " [label=\"" << escape(nodes[i].label) << "\", shape=" << (leaf ? "ellipse" : "box")
       << (leaf ? ", style=filled, fillcolor=lightblue" : "") << "];\n";
  }
  // Edges point the way values flow: from an input's node to the op that used it.
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (const Node* in : nodes[i].inputs) os << "  n" << id[in] << " -> n" << i << ";\n";
  os << "}\n";
}

void write_dot_file(const Tensor& root, const std::string& path) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    SG_CHECK(out.good(), "write_dot_file: cannot open '", temporary, "' for writing");
    write_dot(root, out);
    out.flush();
    SG_CHECK(out.good(), "write_dot_file: writing '", temporary, "' failed");
  }
  SG_CHECK(std::rename(temporary.c_str(), path.c_str()) == 0, "write_dot_file: cannot rename '", temporary,
           "' to '", path, "'");
}

}  // namespace sg
