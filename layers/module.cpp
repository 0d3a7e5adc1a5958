#include "layers/module.h"

#include <algorithm>
#include <set>

#include "core/autograd.h"
#include "ops/linear.h"

namespace sg {

namespace {
template <class Entries>
auto find_entry(Entries& entries, const std::string& name) {
  return std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.first == name; });
}

void check_name(const std::string& name, const char* what) {
  SG_CHECK(!name.empty() && name.find('.') == std::string::npos, "register_", what, ": expected a non-empty name "
           "without dots, got \"", name, "\"");
}
}  // namespace

Tensor Parametrization::apply_linear(Module& owner, const Tensor& x, const Tensor& original, const Tensor& bias) {
  return linear(x, apply(owner, original), bias);
}

Tensor Module::param(const std::string& name) {
  Tensor& original = raw_param(name);
  auto it = parametrizations_.find(name);
  return it == parametrizations_.end() ? original : it->second->apply(*this, original);
}

Tensor& Module::raw_param(const std::string& name) {
  auto it = find_entry(parameters_, name);
  SG_CHECK(it != parameters_.end(), type_name(), ": no parameter named \"", name, "\"");
  return it->second;
}

bool Module::has_param(const std::string& name) const { return find_entry(parameters_, name) != parameters_.end(); }

void Module::set_parametrization(const std::string& name, std::shared_ptr<Parametrization> p) {
  SG_CHECK(has_param(name), type_name(), ": cannot parametrize \"", name, "\": no such parameter");
  parametrizations_[name] = std::move(p);
}

std::shared_ptr<Parametrization> Module::parametrization(const std::string& name) const {
  auto it = parametrizations_.find(name);
  return it == parametrizations_.end() ? nullptr : it->second;
}

void Module::remove_parametrization(const std::string& name) { parametrizations_.erase(name); }

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  check_name(name, "parameter");
  SG_CHECK(!has_param(name) && !has_buffer(name), type_name(), ": \"", name, "\" is already registered");
  if (value.defined() && !value.requires_grad()) value.requires_grad_(true);
  parameters_.emplace_back(name, value);
  return parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  check_name(name, "buffer");
  SG_CHECK(!has_param(name) && !has_buffer(name), type_name(), ": \"", name, "\" is already registered");
  buffers_.emplace_back(name, value);
  return buffers_.back().second;
}

Tensor& Module::buffer(const std::string& name) {
  auto it = find_entry(buffers_, name);
  SG_CHECK(it != buffers_.end(), type_name(), ": no buffer named \"", name, "\"");
  return it->second;
}

bool Module::has_buffer(const std::string& name) const { return find_entry(buffers_, name) != buffers_.end(); }

void Module::remove_parameter(const std::string& name) {
  auto it = find_entry(parameters_, name);
  if (it != parameters_.end()) parameters_.erase(it);
  parametrizations_.erase(name);
}

void Module::remove_buffer(const std::string& name) {
  auto it = find_entry(buffers_, name);
  if (it != buffers_.end()) buffers_.erase(it);
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, "module");
  SG_CHECK(module != nullptr, type_name(), ": register_module(\"", name, "\") got a null module");
  SG_CHECK(find_entry(children_, name) == children_.end(), type_name(), ": module \"", name,
           "\" is already registered");
  children_.emplace_back(name, std::move(module));
}

void Module::replace_child(const std::string& name, std::shared_ptr<Module> module) {
  SG_CHECK(module != nullptr, type_name(), ": replace_child(\"", name, "\") got a null module");
  auto entry = find_entry(children_, name);
  SG_CHECK(entry != children_.end(), type_name(), ": replace_child: no child module \"", name, "\"");
  entry->second = std::move(module);
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  // Depth-first, in registration order (a module before its children), with an
  // explicit stack rather than recursion.
  std::vector<std::pair<std::string, Module*>> out, stack{{"", this}};
  while (!stack.empty()) {
    auto [prefix, module] = stack.back();
    stack.pop_back();
    out.emplace_back(prefix, module);
    for (auto it = module->children_.rbegin(); it != module->children_.rend(); ++it)
      stack.emplace_back(prefix.empty() ? it->first : prefix + "." + it->first, it->second.get());
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [prefix, module] : const_cast<Module*>(this)->named_modules())
    for (auto& [name, t] : module->parameters_) out.emplace_back(prefix.empty() ? name : prefix + "." + name, t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [prefix, module] : const_cast<Module*>(this)->named_modules())
    for (auto& [name, t] : module->buffers_) out.emplace_back(prefix.empty() ? name : prefix + "." + name, t);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : named_parameters()) out[name] = t.detach();
  for (auto& [name, t] : named_buffers()) out[name] = t.detach();
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::map<std::string, Tensor> own = state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (auto& [name, t] : own) {
    auto it = state.find(name);
    if (it == state.end()) missing.push_back(name);
    else if (!it->second.defined())
      detail::throw_error("load_state_dict: the entry for '", name, "' is an undefined tensor (expected a tensor of shape ",
                          shape_str(t.shape()), ", got an empty handle)");
    else if (it->second.shape() != t.shape())
      mismatched.push_back(str(name, ": expected ", shape_str(t.shape()), ", got ", shape_str(it->second.shape())));
  }
  for (auto& [name, t] : state)
    if (!own.count(name)) unexpected.push_back(name);
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  SG_CHECK(mismatched.empty(), "load_state_dict: shape mismatch for ", join(mismatched));
  if (strict) {
    SG_CHECK(missing.empty() && unexpected.empty(), "load_state_dict: ",
             missing.empty() ? "" : "missing keys: " + join(missing) + (unexpected.empty() ? "" : "; "),
             unexpected.empty() ? "" : "unexpected keys: " + join(unexpected));
  }
  NoGradGuard no_grad;
  for (auto& [name, t] : own) {
    auto it = state.find(name);
    if (it != state.end()) t.copy_(it->second);
  }
}

void Module::train(bool on) {
  for (auto& [name, module] : named_modules()) module->training_ = on;
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  auto move = [&](const Tensor& t) {
    if (!t.defined() || t.device() == device) return;
    Tensor moved = t.detach().contiguous().to(device);
    TensorImpl* impl = t.impl();
    impl->storage = moved.impl()->storage;
    impl->strides = moved.strides();
    impl->offset = moved.offset();
    impl->grad = nullptr;
  };
  for (auto& [name, t] : named_parameters()) move(t);
  for (auto& [name, t] : named_buffers()) move(t);
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.zero_grad();
}

Module& Module::requires_grad_(bool requires_grad) {
  for (Tensor& p : parameters()) p.requires_grad_(requires_grad);
  return *this;
}

void Module::print(std::ostream& os, int indent) const {
  int64_t count = 0;
  for (auto& [name, t] : parameters_) count += t.numel();
  os << type_name() << "(" << settings() << ")";
  for (auto& [name, p] : parametrizations_) os << " [" << name << ": " << p->describe() << "]";
  if (children_.empty()) {
    if (count) os << "  # " << count << " parameters";
    os << "\n";
    return;
  }
  os << "\n";
  for (auto& [name, child] : children_) {
    os << std::string(static_cast<std::size_t>(indent + 2), ' ') << "(" << name << "): ";
    child->print(os, indent + 2);
  }
}

std::ostream& operator<<(std::ostream& os, const Module& m) {
  m.print(os);
  return os;
}

}  // namespace sg
