#pragma once
// NumPy .npy files, so tensors can be inspected and compared in Python
// (np.load / np.save) and fixtures made in Python can be read here.
//
// Format (numpy.lib.format): the magic "\x93NUMPY", a major and a minor version
// byte, the header length (uint16 little-endian for version 1.0, uint32 for 2.0 and
// 3.0), then the header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n' so that the data starts at a multiple of 64
// bytes, then the raw elements in C (row-major) order.
#include <string>

#include "core/tensor.h"

namespace sg {

// Writes `t` to `path` as version 1.0 (2.0 only if the header were to pass 64 KiB),
// with the header bytes exactly as numpy >= 1.23 writes them, so files round-trip
// byte for byte with np.save. dtype: float32 -> '<f4', float64 -> '<f8', int64 -> '<i8'.
// Any tensor: non-contiguous views are written in logical row-major order, tensors on
// other devices are copied to the CPU first. The file is replaced atomically
// (io/atomic_file.h). Errors: undefined tensor, unwritable path.
void save_npy(const std::string& path, const Tensor& t);

// Writes `t` as '|u1' (uint8), e.g. images for viewing. Requires every value to be an
// integer in 0..255 (any dtype); otherwise an sg::Error naming the first bad value
// and its flat row-major index.
void save_npy_uint8(const std::string& path, const Tensor& t);

// Reads a .npy file of format version 1.0, 2.0 or 3.0 into a contiguous CPU tensor.
// Supported dtypes: '<f4' -> Float32, '<f8' -> Float64, '<i8' -> Int64, and '|u1'
// (uint8) -> Int64, because sigmagrad has no uint8 dtype (values 0..255, widened).
// Requires: little-endian data, fortran_order False, and exactly as many data bytes
// as the shape promises. Every other file gives an sg::Error naming the path and the
// problem: bad magic, unsupported version, a header that does not parse, big-endian
// ('>') or unknown dtypes, fortran_order True, "truncated: expected N bytes of data,
// found M", or trailing bytes after the data.
Tensor load_npy(const std::string& path);

}  // namespace sg
