#pragma once
// The watchdog: a collective waits for every rank, so a rank that died, hung or was stopped
// would make the others wait forever. Each wait runs inside a Watchdog::Scope; a background
// thread checks the clock, and when one wait exceeds the timeout it prints what this rank
// was waiting in and for how long, and ends the process with kDistributedTimeoutExitCode.
// mpirun then stops the whole job and names the rank that ended. (Ending the process is the
// only safe move: a collective in flight can be neither cancelled nor thrown out of.)
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace sg::dist {

inline constexpr int kDistributedTimeoutExitCode = 4;

class Watchdog {
 public:
  Watchdog(double timeout_seconds, int rank);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  class Scope {
   public:
    ~Scope() { watchdog_.disarm(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    friend class Watchdog;
    explicit Scope(Watchdog& watchdog) : watchdog_(watchdog) {}
    Watchdog& watchdog_;
  };
  // Watches the wait that follows, until the returned scope ends. `what` names it in the
  // error ("all-reduce of 1,234 float32 values").
  [[nodiscard]] Scope watch(std::string what);
  void set_rank(int rank);
  double timeout_seconds() const { return timeout_seconds_; }

 private:
  void disarm();
  void run();

  using Clock = std::chrono::steady_clock;
  const double timeout_seconds_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool armed_ = false, stopping_ = false;
  Clock::time_point started_;
  std::string what_;
  int rank_;
  std::thread thread_;
};

// The timeout to use: SIGMAGRAD_DIST_TIMEOUT (seconds) when set, else `fallback`. A value
// that is not a positive number is an error that names the variable.
double timeout_from_environment(double fallback);

}  // namespace sg::dist
