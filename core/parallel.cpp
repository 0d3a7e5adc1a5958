#include "core/parallel.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
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

// A fixed set of worker threads that sleep on a condition variable between jobs.
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
    std::unique_lock<std::mutex> lock(mutex_);
    body_ = &chunk_body;
    chunks_ = chunks;
    next_.store(0);
    pending_ = chunks;
    ++generation_;
    lock.unlock();
    wake_.notify_all();
    take_chunks();  // the calling thread works too
    lock.lock();
    done_.wait(lock, [this] { return pending_ == 0; });
    body_ = nullptr;
  }

 private:
  void take_chunks() {
    t_inside_parallel = true;
    for (int64_t c = next_.fetch_add(1); c < chunks_; c = next_.fetch_add(1)) {
      (*body_)(c);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_all();
    }
    t_inside_parallel = false;
  }

  void work() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      lock.unlock();
      take_chunks();
      lock.lock();
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
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* body_ = nullptr;
  std::atomic<int64_t> next_{0}, chunks_{0};
  int64_t pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
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
