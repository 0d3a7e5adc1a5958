#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <streambuf>
#include <vector>

#include "core/error.h"

namespace sg {

namespace {

std::string system_reason(int err) { return std::strerror(err); }

// A buffered std::streambuf over a POSIX file descriptor. std::ofstream cannot be
// fsynced, so this is the smallest way to offer an std::ostream and still reach the fd.
// The first write error's errno is kept so the caller can report the real reason.
class FdWriteBuf : public std::streambuf {
 public:
  explicit FdWriteBuf(int fd) : fd_(fd), buffer_(1 << 20) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    // Large blocks (tensor data) go straight to the fd instead of through the buffer.
    if (n >= static_cast<std::streamsize>(buffer_.size())) {
      if (!drain() || !write_all(s, static_cast<std::size_t>(n))) return 0;
      return n;
    }
    return std::streambuf::xsputn(s, n);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    std::size_t pending = static_cast<std::size_t>(pptr() - pbase());
    bool ok = write_all(pbase(), pending);
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return ok;
  }
  bool write_all(const char* p, std::size_t n) {
    if (error_) return false;
    while (n > 0) {
      ssize_t written = ::write(fd_, p, n);
      if (written < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return false;
      }
      p += written;
      n -= static_cast<std::size_t>(written);
    }
    return true;
  }

  int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
};

std::string parent_directory(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Makes the rename itself durable. Best effort: some file systems refuse to fsync a
// directory, and the data is already safe in the renamed file.
void sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  SG_CHECK(!path.empty(), "write_file_atomically: expected a file path, got an empty string");
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  SG_CHECK(fd >= 0, "cannot open '", tmp, "' for writing (to replace '", path, "'): ", system_reason(errno));
  // Every failure from here on must close the fd and remove the partial temporary file.
  auto abandon = [&] {
    ::close(fd);
    ::unlink(tmp.c_str());
  };
  try {
    FdWriteBuf buf(fd);
    std::ostream os(&buf);
    write(os);
    os.flush();
    SG_CHECK(os.good() && buf.error() == 0, "writing '", tmp, "' failed: ",
             system_reason(buf.error() ? buf.error() : EIO));
    SG_CHECK(::fsync(fd) == 0, "fsync of '", tmp, "' failed: ", system_reason(errno));
  } catch (...) {
    abandon();
    throw;
  }
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error(str("closing '", tmp, "' failed: ", system_reason(err)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error(str("cannot rename '", tmp, "' to '", path, "': ", system_reason(err)));
  }
  sync_directory(parent_directory(path));
}

}  // namespace sg
