#pragma once
// Writing a file so that readers only ever see the old contents or the complete new
// ones: a crash, a full disk or an exception halfway through never leaves a torn file
// at the path (a checkpoint that fails to save must not destroy the previous one).
#include <functional>
#include <ostream>
#include <string>

namespace sg {

// Calls `write` with a binary stream onto PATH.tmp, then flushes, fsyncs and renames
// PATH.tmp over PATH (atomic on POSIX file systems), then fsyncs the directory.
// Guarantees: if `write` throws, or any step fails, PATH is left as it was, PATH.tmp
// is removed, and the exception (an sg::Error for I/O failures, naming the path and
// the system's reason) propagates. Not for several writers of one path at once: they
// would share PATH.tmp.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace sg
