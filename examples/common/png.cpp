#include "png.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "io/atomic_file.h"

namespace sg::examples {

namespace {
void write_to_stream(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::ostream*>(png_get_io_ptr(png));
  out->write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(length));
}
void flush_stream(png_structp png) { static_cast<std::ostream*>(png_get_io_ptr(png))->flush(); }
}  // namespace

void write_png_grid(const std::string& path, const Tensor& images, int64_t columns) {
  SG_CHECK(images.dim() == 4 && images.shape()[1] == 1 && images.shape()[0] >= 1,
           "write_png_grid: expected images of shape (N, 1, H, W), got ", shape_str(images.shape()));
  SG_CHECK(columns >= 1, "write_png_grid: expected columns >= 1, got ", columns);
  const int64_t n = images.shape()[0], h = images.shape()[2], w = images.shape()[3], border = 2;
  const int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  const int64_t width = cols * (w + border) + border, height = rows * (h + border) + border;
  std::vector<double> pixels = images.to(DType::Float64).to_vector<double>();
  std::vector<png_byte> canvas(static_cast<std::size_t>(width * height), 64);  // dark grey frame
  for (int64_t k = 0; k < n; ++k) {
    int64_t top = border + (k / cols) * (h + border), left = border + (k % cols) * (w + border);
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) {
        double v = (pixels[static_cast<std::size_t>((k * h + i) * w + j)] + 1.0) * 127.5;
        canvas[static_cast<std::size_t>((top + i) * width + left + j)] =
            static_cast<png_byte>(std::clamp(std::lround(v), 0L, 255L));
      }
  }
  write_file_atomically(path, [&](std::ostream& out) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    SG_CHECK(png && info, "write_png_grid: libpng could not be initialised");
    if (setjmp(png_jmpbuf(png))) {  // libpng reports errors by longjmp
      png_destroy_write_struct(&png, &info);
      detail::throw_error("write_png_grid: libpng failed writing ", path);
    }
    png_set_write_fn(png, &out, write_to_stream, flush_stream);
    png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int64_t y = 0; y < height; ++y) png_write_row(png, &canvas[static_cast<std::size_t>(y * width)]);
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
  });
}

}  // namespace sg::examples
