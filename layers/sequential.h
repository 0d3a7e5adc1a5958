#pragma once
// Sequential: runs its children in order; child i is named "i".
#include <initializer_list>

#include "layers/module.h"

namespace sg {

class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
    for (const auto& m : modules) push_back(m);
  }
  void push_back(std::shared_ptr<Module> module) {
    add_child(std::to_string(children().size()), std::move(module));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = x;
    for (const auto& [name, child] : children()) y = child->forward(y);
    return y;
  }
  std::size_t size() const { return children().size(); }
  std::shared_ptr<Module> operator[](std::size_t i) const {
    SG_CHECK(i < size(), "Sequential: index ", i, " out of range for ", size(), " modules");
    return children()[i].second;
  }
  template <class M>
  std::shared_ptr<M> at(std::size_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    SG_CHECK(m != nullptr, "Sequential: module ", i, " is a ", (*this)[i]->type_name(), ", not the requested type");
    return m;
  }
  std::string type_name() const override { return "Sequential"; }
};

}  // namespace sg
