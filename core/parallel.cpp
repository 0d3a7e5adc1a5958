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

constexpr int kMaxThreads = 1 << 15;  // a job's chunk count is a 16-bit field (Pool below)

int default_threads() {
  if (const char* env = std::getenv("SIGMAGRAD_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return std::min(n, kMaxThreads);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, kMaxThreads));
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
// workers claim one by one until none is left.
//
// The whole job state that a claim depends on is one atomic word: the job's generation,
// its chunk count and the next unclaimed chunk. A claim is a compare-and-swap on that
// word, so a worker that wakes late, after its job has ended and the next has begun, can
// never take a chunk of a job it did not see published: its swap fails on the generation.
// The caller writes body_ and pending_ before publishing the word, and a job's body_
// stays valid until its last claimed chunk is done (the caller waits for pending_ == 0).
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
    const uint32_t generation = ++generation_;  // callers are serialised (g_run_mutex)
    body_ = &chunk_body;
    pending_.store(chunks);
    job_.store(pack(generation, static_cast<uint64_t>(chunks), 0));
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mutex_);  // a worker between its check and its wait sees the job
      wake_.notify_all();
    }
    take_chunks(generation);  // the calling thread works too
    spin_until([&] { return pending_.load() == 0; });
  }

 private:
  // job_ = generation (32 bits) | chunks (16 bits) | next chunk (16 bits)
  static uint64_t pack(uint32_t generation, uint64_t chunks, uint64_t next) {
    return (uint64_t{generation} << 32) | (chunks << 16) | next;
  }
  static uint32_t generation_of(uint64_t job) { return static_cast<uint32_t>(job >> 32); }

  // Claims the next chunk of job `generation`; false when it has none left (or has ended).
  bool claim(uint32_t generation, int64_t* chunk) {
    uint64_t job = job_.load();
    while (generation_of(job) == generation && (job & 0xffff) < ((job >> 16) & 0xffff)) {
      if (job_.compare_exchange_weak(job, job + 1)) {
        *chunk = static_cast<int64_t>(job & 0xffff);
        return true;
      }
    }
    return false;
  }

  void take_chunks(uint32_t generation) {
    t_inside_parallel = true;
    for (int64_t c; claim(generation, &c);) {
      (*body_)(c);
      pending_.fetch_sub(1);
    }
    t_inside_parallel = false;
  }

  void work() {
    uint32_t seen = generation_of(job_.load());
    auto idle_since = std::chrono::steady_clock::now();
    for (int spins = 0;; ++spins) {
      if (stopping_.load()) return;
      const uint32_t current = generation_of(job_.load());
      if (current != seen) {
        seen = current;
        take_chunks(current);
        idle_since = std::chrono::steady_clock::now();
        spins = 0;
        continue;
      }
      cpu_relax();
      if (spins % 256 == 255 && std::chrono::steady_clock::now() - idle_since > kSpinBeforeSleep) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, [&] { return stopping_.load() || generation_of(job_.load()) != seen; });
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
  uint32_t generation_ = 0;  // the caller's count; workers read generations off job_
  std::atomic<uint64_t> job_{0};
  std::atomic<int64_t> pending_{0};
  std::atomic<int> sleepers_{0};
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
  SG_CHECK(threads >= 1 && threads <= kMaxThreads, "set_num_threads: expected 1 to ", kMaxThreads,
           " threads, got ", threads);
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
