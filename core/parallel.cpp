#include "core/parallel.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

namespace sg {

namespace {

thread_local bool t_inside_parallel = false;

int default_threads() {
  if (const char* env = std::getenv("SIGMAGRAD_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// How long an idle worker keeps polling for the next job before it sleeps. Training
// runs parallel regions a few microseconds apart; waking a sleeping thread through the
// kernel costs about as much as a small region, so workers spin-wait briefly first (as
// OpenMP runtimes do), and then sleep so that an idle process uses no CPU.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Waits until done() holds: polling first, then yielding the core (the thread it waits
// for may have been preempted, on a machine with more threads than cores).
template <class Done>
void spin_until(Done done) {
  for (int spins = 0; !done(); ++spins) {
    if (spins < 4096) cpu_relax();
    else std::this_thread::yield();
  }
}

// A fixed set of worker threads. A job is a number of chunks that the caller and the
// workers take from a shared counter until none is left.
//
// Protocol: the caller writes the job (body_, chunks_, next_, pending_) only while no
// worker is inside one (active_ == 0), then publishes it by bumping generation_. A worker
// announces itself in active_ before it reads generation_, so it either sees the old
// generation and leaves, or the new one with the job fully written.
class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop(); }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int threads) {
    stop();
    stopping_ = false;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }

  void run(int64_t chunks, const std::function<void(int64_t)>& chunk_body) {
    spin_until([&] { return active_.load() == 0; });  // stragglers of the previous job leave
    body_ = &chunk_body;
    chunks_ = chunks;
    next_.store(0);
    pending_.store(chunks);
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mutex_);  // a worker between its check and its wait sees the bump
      wake_.notify_all();
    }
    take_chunks();  // the calling thread works too
    spin_until([&] { return pending_.load() == 0; });
  }

 private:
  void take_chunks() {
    t_inside_parallel = true;
    for (int64_t c = next_.fetch_add(1); c < chunks_; c = next_.fetch_add(1)) {
      (*body_)(c);
      pending_.fetch_sub(1);
    }
    t_inside_parallel = false;
  }

  void work() {
    uint64_t seen = generation_.load();
    auto idle_since = std::chrono::steady_clock::now();
    for (int spins = 0;; ++spins) {
      if (stopping_.load()) return;
      active_.fetch_add(1);
      const uint64_t current = generation_.load();
      if (current != seen) {
        seen = current;
        take_chunks();
        active_.fetch_sub(1);
        idle_since = std::chrono::steady_clock::now();
        spins = 0;
        continue;
      }
      active_.fetch_sub(1);
      cpu_relax();
      if (spins % 256 == 255 && std::chrono::steady_clock::now() - idle_since > kSpinBeforeSleep) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, [&] { return stopping_.load() || generation_.load() != seen; });
        sleepers_.fetch_sub(1);
      }
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  const std::function<void(int64_t)>* body_ = nullptr;
  int64_t chunks_ = 0;
  std::atomic<int64_t> next_{0}, pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> active_{0}, sleepers_{0};
  std::atomic<bool> stopping_{false};
};

// OpenBLAS runs single-threaded: sigmagrad splits GEMMs across its own pool (ops/matmul.cpp),
// so one pool owns the cores. (OpenBLAS's own idle threads spin-yield between calls and
// slowed every kernel of ours that ran beside them; measured in bench/README.md.)
Pool& pool() {
  static Pool instance([] {
    openblas_set_num_threads(1);
    return default_threads();
  }());
  return instance;
}

std::mutex g_run_mutex;  // one parallel_for at a time across user threads

}  // namespace

int num_threads() { return pool().threads(); }

void set_num_threads(int threads) {
  SG_CHECK(threads >= 1, "set_num_threads: expected at least 1 thread, got ", threads);
  std::lock_guard<std::mutex> lock(g_run_mutex);
  pool().resize(threads);
  openblas_set_num_threads(1);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  const int threads = t_inside_parallel ? 1 : num_threads();
  grain = std::max<int64_t>(grain, 1);
  if (threads == 1 || n < 2 * grain) {
    body(0, n);
    return;
  }
  const int64_t chunks = std::min<int64_t>(threads, n / grain);
  const int64_t step = (n + chunks - 1) / chunks;
  std::unique_lock<std::mutex> lock(g_run_mutex, std::try_to_lock);
  if (!lock.owns_lock()) {  // another user thread is running one: do this one serially
    body(0, n);
    return;
  }
  pool().run(chunks, [&](int64_t c) { body(c * step, std::min(n, (c + 1) * step)); });
}

}  // namespace sg
