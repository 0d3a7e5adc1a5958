#include "distributed/watchdog.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace sg::dist {

Watchdog::Watchdog(double timeout_seconds, int rank)
    : timeout_seconds_(timeout_seconds), rank_(rank), thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Watchdog::Scope Watchdog::watch(std::string what) {
  std::lock_guard lock(mutex_);
  what_ = std::move(what);
  started_ = Clock::now();
  armed_ = true;
  return Scope(*this);
}

void Watchdog::disarm() {
  std::lock_guard lock(mutex_);
  armed_ = false;
}

void Watchdog::set_rank(int rank) {
  std::lock_guard lock(mutex_);
  rank_ = rank;
}

void Watchdog::run() {
  // Checking ten times a second bounds the error's delay to the timeout plus 0.1 s and
  // costs nothing measurable.
  const auto period = std::chrono::milliseconds(100);
  const auto limit = std::chrono::duration<double>(timeout_seconds_);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, period);
    if (!armed_ || Clock::now() - started_ < limit) continue;
    std::fprintf(stderr,
                 "sigmagrad: rank %d waited %g s in %s for the other ranks: one of them has died, hung or "
                 "stopped, or never started (the limit is SIGMAGRAD_DIST_TIMEOUT=%g s). Stopping this rank.\n",
                 rank_, timeout_seconds_, what_.c_str(), timeout_seconds_);
    std::fflush(stderr);
    std::fflush(stdout);
    std::_Exit(kDistributedTimeoutExitCode);
  }
}

double timeout_from_environment(double fallback) {
  const char* text = std::getenv("SIGMAGRAD_DIST_TIMEOUT");
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  SG_CHECK(end != text && *end == '\0' && seconds > 0 && seconds < 1e9,
           "SIGMAGRAD_DIST_TIMEOUT: expected a positive number of seconds, got '", text, "'");
  return seconds;
}

}  // namespace sg::dist
