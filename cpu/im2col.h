#pragma once
// im2col / col2im on the CPU, one image at a time: the data movement that turns a
// convolution into GEMMs (ConvGeometry in kernels/geometry.h says which column entry holds
// which pixel). col2im is the adjoint: it adds each column entry back to its pixel.
// The whole-batch versions are the table's im2col / col2im (cpu/im2col.cpp).
#include <cstdint>

#include "kernels/geometry.h"

namespace sg::cpu {

// The CPU kernels for one image (g.batch is ignored): its columns form a (C*kh*kw) x
// (Ho*Wo) block whose rows lie `ld` elements apart (ld = Ho*Wo for a block of its own,
// N*Ho*Wo for image n's columns inside the batch's). col2im_image adds into `image`.
template <class T>
void im2col_image(const T* image, const ConvGeometry& g, T* cols, int64_t ld);
template <class T>
void col2im_image(const T* cols, int64_t ld, const ConvGeometry& g, T* image);

}  // namespace sg::cpu
