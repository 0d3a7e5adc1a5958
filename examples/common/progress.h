#pragma once
// A one-line progress bar for training loops:
//   epoch 1/3 [##########----------]  47% 440/938  loss 0.0712 | 212.4 it/s | 2s left
// On a terminal it redraws in place; in a log (not a TTY) it prints every 10%.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace sg::examples {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total)
      : label_(std::move(label)), total_(total), start_(std::chrono::steady_clock::now()),
        tty_(isatty(fileno(stderr)) != 0) {}

  // No bars at all in this process (the ranks other than 0 of a data-parallel run).
  static void hide_all() { hidden_ = true; }

  // Call after step `done` (1-based) with a short text of current metrics.
  void update(int64_t done, const std::string& metrics) {
    if (hidden_) return;
    double elapsed = seconds();
    bool last = done >= total_;
    if (tty_) {
      if (!last && elapsed - last_draw_ < 0.1) return;  // at most 10 redraws a second
    } else {
      int64_t tenth = total_ >= 10 ? total_ / 10 : 1;
      if (!last && done % tenth != 0) return;
    }
    last_draw_ = elapsed;
    constexpr int kWidth = 20;
    int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar += std::string(static_cast<std::size_t>(kWidth - filled), '-');
    double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
    double left = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
    std::fprintf(stderr, "%s%s [%s] %3d%% %lld/%lld  %s | %.1f it/s | %s left%s", tty_ ? "\r" : "", label_.c_str(),
                 bar.c_str(), total_ > 0 ? static_cast<int>(100 * done / total_) : 100, static_cast<long long>(done),
                 static_cast<long long>(total_), metrics.c_str(), rate, duration(left).c_str(),
                 tty_ && !last ? "\033[K" : "\n");
    std::fflush(stderr);
  }

  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  static inline bool hidden_ = false;
  static std::string duration(double s) {
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
    else if (s >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
    else std::snprintf(buf, sizeof buf, "%ds", static_cast<int>(s + 0.5));
    return buf;
  }

  std::string label_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_;
  bool tty_;
  double last_draw_ = -1.0;
};

}  // namespace sg::examples
