#pragma once
// PNG output through libpng: image grids of generated digits.
#include <string>

#include "core/tensor.h"

namespace sg::examples {

// Writes images (N, 1, H, W) with values in [-1, 1] as a grid `columns` wide, with a
// 2-pixel border, to `path` atomically. N must be at least 1.
void write_png_grid(const std::string& path, const Tensor& images, int64_t columns = 8);

}  // namespace sg::examples
