// Views and concatenation.
#include "ops/shape.h"

#include <algorithm>

#include "core/autograd.h"
#include "ops/reduce.h"

namespace sg {

namespace {

// A view whose backward only restores the input's shape (reshape, squeeze, unsqueeze).
Tensor reshaping_view(const char* name, const Tensor& x, Shape shape, Shape strides) {
  Tensor out = make_view(x, std::move(shape), std::move(strides), x.offset());
  Shape in_shape = x.shape();
  return record(name, {x}, out, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return TensorList{g.reshape(in_shape)};
  });
}

Shape resolve_shape(const Shape& requested, int64_t numel, const char* op, const Shape& from) {
  Shape shape = requested;
  int64_t infer_at = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      SG_CHECK(infer_at < 0, op, ": only one dimension can be -1, got ", shape_str(requested));
      infer_at = static_cast<int64_t>(i);
      shape[i] = 1;  // for the product of the known sizes
    } else {
      SG_CHECK(shape[i] >= 0, op, ": invalid size ", shape[i], " in ", shape_str(requested));
    }
  }
  const int64_t known = checked_numel(shape, op);
  if (infer_at >= 0) {
    SG_CHECK(known > 0 && numel % known == 0, op, ": shape ", shape_str(requested), " is invalid for ",
             shape_str(from), " (", numel, " elements)");
    shape[static_cast<std::size_t>(infer_at)] = numel / known;
  }
  SG_CHECK(shape_numel(shape) == numel, op, ": shape ", shape_str(requested), " is invalid for an input of shape ",
           shape_str(from), " (", numel, " elements)");
  return shape;
}

}  // namespace

// out = x with another shape       dx = g reshaped back
Tensor Tensor::view(const Shape& requested) const { return view_as_named(requested, "view"); }

// view() under the name of the op the user called, so that its errors name that op.
Tensor Tensor::view_as_named(const Shape& requested, const char* op) const {
  Shape shape = resolve_shape(requested, numel(), op, this->shape());
  SG_CHECK(is_contiguous(), "view: the tensor of shape ", shape_str(this->shape()), " with strides ",
           shape_str(strides()), " is not contiguous; use reshape(), which copies when it must");
  Shape strides = contiguous_strides(shape);
  return reshaping_view("reshape", *this, shape, strides);
}

Tensor Tensor::reshape(const Shape& requested) const {
  return (is_contiguous() ? *this : contiguous()).view_as_named(requested, "reshape");
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t first = wrap_dim(start_dim, dim(), "flatten"), last = wrap_dim(end_dim, dim(), "flatten");
  SG_CHECK(first <= last, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape(this->shape().begin(), this->shape().begin() + first);
  int64_t merged = 1;
  for (int64_t d = first; d <= last; ++d) merged *= this->shape()[static_cast<std::size_t>(d)];
  shape.push_back(merged);
  shape.insert(shape.end(), this->shape().begin() + last + 1, this->shape().end());
  return reshape(shape);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  Shape shape = this->shape(), st = strides();
  if (dim() > 0 && shape[static_cast<std::size_t>(d)] == 1) {
    shape.erase(shape.begin() + d);
    st.erase(st.begin() + d);
  }
  return reshaping_view("squeeze", *this, shape, st);
}

Tensor Tensor::squeeze() const {
  Shape shape, st;
  for (int64_t d = 0; d < dim(); ++d)
    if (this->shape()[static_cast<std::size_t>(d)] != 1) {
      shape.push_back(this->shape()[static_cast<std::size_t>(d)]);
      st.push_back(strides()[static_cast<std::size_t>(d)]);
    }
  return reshaping_view("squeeze", *this, shape, st);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  SG_CHECK(d >= -dim() - 1 && d <= dim(), "unsqueeze: dimension out of range (expected to be in [", -dim() - 1,
           ", ", dim(), "], got ", d, ")");
  if (d < 0) d += dim() + 1;
  Shape shape = this->shape(), st = strides();
  int64_t stride = d < dim() ? st[static_cast<std::size_t>(d)] * shape[static_cast<std::size_t>(d)] : 1;
  shape.insert(shape.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return reshaping_view("unsqueeze", *this, shape, st);
}

// out = x with dims reordered      dx = g with the inverse order
Tensor Tensor::permute(const Shape& order) const {
  SG_CHECK(static_cast<int64_t>(order.size()) == dim(), "permute: expected ", dim(), " dims for shape ",
           shape_str(shape()), ", got order ", shape_str(order));
  Shape shape(order.size()), st(order.size()), inverse(order.size(), -1);
  for (std::size_t i = 0; i < order.size(); ++i) {
    int64_t d = wrap_dim(order[i], dim(), "permute");
    SG_CHECK(inverse[static_cast<std::size_t>(d)] < 0, "permute: dim ", d, " repeated in ", shape_str(order));
    inverse[static_cast<std::size_t>(d)] = static_cast<int64_t>(i);
    shape[i] = this->shape()[static_cast<std::size_t>(d)];
    st[i] = strides()[static_cast<std::size_t>(d)];
  }
  Tensor out = make_view(*this, shape, st, offset());
  return record("permute", {*this}, out, [inverse](const Tensor& g, const std::vector<bool>&) {
    return TensorList{g.permute(inverse)};
  });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  if (dim() == 0) {  // only dims 0 / -1 exist, and swapping them changes nothing
    wrap_dim(d0, 0, "transpose");
    wrap_dim(d1, 0, "transpose");
    return permute({});
  }
  Shape order(static_cast<std::size_t>(dim()));
  for (int64_t i = 0; i < dim(); ++i) order[static_cast<std::size_t>(i)] = i;
  std::swap(order[static_cast<std::size_t>(wrap_dim(d0, dim(), "transpose"))],
            order[static_cast<std::size_t>(wrap_dim(d1, dim(), "transpose"))]);
  return permute(order);
}

Tensor Tensor::t() const {
  SG_CHECK(dim() == 2, "t: expected a 2-d tensor, got shape ", shape_str(shape()), " (use transpose)");
  return transpose(0, 1);
}

// out = x[start:end:step] along dim     dx = zeros with g written into that slice
Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  SG_CHECK(dim() > 0, "slice: expected a tensor with at least one dimension, got a 0-d tensor");
  d = wrap_dim(d, dim(), "slice");
  SG_CHECK(step > 0, "slice: expected step > 0, got ", step);
  const int64_t size = shape()[static_cast<std::size_t>(d)];
  // Python semantics: negative positions count from the end, out-of-range ones clamp.
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<int64_t>(start, 0, size);
  end = std::clamp<int64_t>(end, start, size);
  Shape shape = this->shape(), st = strides();
  shape[static_cast<std::size_t>(d)] = (end - start + step - 1) / step;
  st[static_cast<std::size_t>(d)] *= step;
  Tensor out = make_view(*this, shape, st, offset() + start * strides()[static_cast<std::size_t>(d)]);
  Shape in_shape = this->shape();
  return record("slice", {*this}, out, [in_shape, d, start, end, step](const Tensor& g, const std::vector<bool>&) {
    Tensor grad_in = zeros(in_shape, {g.dtype(), g.device(), false});
    grad_in.slice(d, start, end, step).copy_(g);
    return TensorList{grad_in};
  });
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  SG_CHECK(dim() > 0, "narrow: expected a tensor with at least one dimension, got a 0-d tensor");
  d = wrap_dim(d, dim(), "narrow");
  const int64_t size = shape()[static_cast<std::size_t>(d)];
  SG_CHECK(start >= 0 && length >= 0 && start + length <= size, "narrow: range [", start, ", ", start + length,
           ") is out of bounds for dim ", d, " of size ", size);
  return slice(d, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  SG_CHECK(dim() > 0, "select: expected a tensor with at least one dimension, got a 0-d tensor");
  d = wrap_dim(d, dim(), "select");
  const int64_t size = shape()[static_cast<std::size_t>(d)];
  SG_CHECK(index >= -size && index < size, "select: index ", index, " is out of range for dim ", d, " of size ",
           size);
  if (index < 0) index += size;
  return slice(d, index, index + 1).squeeze(d);
}

// out = x broadcast to shape (stride 0, no copy)    dx = g summed back to x's shape
Tensor Tensor::expand(const Shape& requested) const {
  SG_CHECK(requested.size() >= static_cast<std::size_t>(dim()), "expand: cannot expand shape ",
           shape_str(shape()), " to fewer dims ", shape_str(requested));
  std::size_t lead = requested.size() - static_cast<std::size_t>(dim());
  Shape shape(requested.size()), st(requested.size(), 0);
  for (std::size_t i = 0; i < requested.size(); ++i) {
    if (i < lead) {
      SG_CHECK(requested[i] >= 0, "expand: new leading dims need an explicit size, got ", shape_str(requested));
      shape[i] = requested[i];
      continue;
    }
    int64_t have = this->shape()[i - lead];
    int64_t want = requested[i] == -1 ? have : requested[i];
    SG_CHECK(want == have || have == 1, "expand: cannot expand shape ", shape_str(this->shape()), " to ",
             shape_str(requested), " (dim ", i, ": ", have, " to ", want, "; only size-1 dims expand)");
    shape[i] = want;
    st[i] = want == have ? strides()[i - lead] : 0;
  }
  Tensor out = make_view(*this, shape, st, offset());
  Shape in_shape = this->shape();
  return record("expand", {*this}, out, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return TensorList{sum_to_shape(g, in_shape)};
  });
}

// out = [a; b; ...] along dim           d(input k) = g's slice for k
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  SG_CHECK(!tensors.empty(), "cat: expected at least one tensor, got none");
  const Tensor& first = tensors[0];
  for (std::size_t k = 0; k < tensors.size(); ++k)
    SG_CHECK(tensors[k].dim() > 0, "cat: tensor ", k, " is 0-d; only tensors with at least one dimension can be "
             "concatenated (use stack, or unsqueeze(0) first)");
  dim = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  int64_t total = 0;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    SG_CHECK(t.dim() == first.dim(), "cat: tensor ", k, " has shape ", shape_str(t.shape()), ", expected ",
             first.dim(), " dims like tensor 0 ", shape_str(first.shape()));
    SG_CHECK(t.dtype() == first.dtype() && t.device() == first.device(), "cat: tensor ", k, " is ",
             dtype_name(t.dtype()), " on ", t.device().str(), ", expected ", dtype_name(first.dtype()), " on ",
             first.device().str());
    for (int64_t d = 0; d < first.dim(); ++d)
      SG_CHECK(d == dim || t.shape()[static_cast<std::size_t>(d)] == shape[static_cast<std::size_t>(d)],
               "cat: tensor ", k, " has shape ", shape_str(t.shape()), ", expected ", shape_str(first.shape()),
               " except along dim ", dim);
    total += t.shape()[static_cast<std::size_t>(dim)];
  }
  shape[static_cast<std::size_t>(dim)] = total;
  Tensor out = empty(shape, {first.dtype(), first.device(), false});
  std::vector<int64_t> starts;
  {
    NoGradGuard no_grad;
    int64_t at = 0;
    for (const Tensor& t : tensors) {
      starts.push_back(at);
      int64_t n = t.shape()[static_cast<std::size_t>(dim)];
      out.slice(dim, at, at + n).copy_(t);
      at += n;
    }
    starts.push_back(at);
  }
  return record("cat", tensors, out, [dim, starts](const Tensor& g, const std::vector<bool>& needs) {
    TensorList grads(starts.size() - 1);
    for (std::size_t k = 0; k + 1 < starts.size(); ++k)
      if (needs[k]) grads[k] = g.slice(dim, starts[k], starts[k + 1]);
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  SG_CHECK(!tensors.empty(), "stack: expected at least one tensor, got none");
  for (std::size_t k = 1; k < tensors.size(); ++k)
    SG_CHECK(tensors[k].shape() == tensors[0].shape(), "stack: tensor ", k, " has shape ",
             shape_str(tensors[k].shape()), ", expected ", shape_str(tensors[0].shape()), " like tensor 0");
  SG_CHECK(dim >= -tensors[0].dim() - 1 && dim <= tensors[0].dim(), "stack: dim ", dim,
           " out of range for tensors of shape ", shape_str(tensors[0].shape()));
  std::vector<Tensor> unsqueezed;
  for (const Tensor& t : tensors) unsqueezed.push_back(t.unsqueeze(dim));
  return cat(unsqueezed, dim);
}

}  // namespace sg
