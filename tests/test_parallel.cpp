// The thread pool: parallel_for covers its range exactly once, job after job; nested
// regions run serially; the thread count is set in one place and checked.
#include <doctest/doctest.h>

#include <atomic>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"

using namespace sg;

namespace {

// Restores the thread count a test changed.
struct ThreadCountGuard {
  int saved = num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("parallel_for visits every index exactly once, over many consecutive jobs") {
  // Thousands of short jobs back to back: a worker that woke late and took a chunk of a
  // job it did not see published would visit an index twice, or miss one.
  ThreadCountGuard guard;
  set_num_threads(2);
  std::vector<std::atomic<int>> visits(1000);
  for (int job = 0; job < 5000; ++job) {
    const int64_t n = 2 + job % 997;  // varying sizes, each split into two chunks (grain 1)
    parallel_for(n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) visits[static_cast<std::size_t>(i)].fetch_add(1);
    });
  }
  // Index i lies in a job's range whenever n > i, i.e. once for each job with 2 + job % 997 > i.
  for (int64_t i = 0; i < 1000; ++i) {
    int expected = 0;
    for (int job = 0; job < 5000; ++job) expected += 2 + job % 997 > i ? 1 : 0;
    CHECK(visits[static_cast<std::size_t>(i)].load() == expected);
  }
}

TEST_CASE("a parallel_for inside another runs serially, as one call over its whole range") {
  ThreadCountGuard guard;
  set_num_threads(2);
  std::atomic<int> inner_calls{0};
  std::atomic<int64_t> inner_covered{0};
  parallel_for(2, 1, [&](int64_t, int64_t) {
    parallel_for(100, 1, [&](int64_t begin, int64_t end) {
      inner_calls.fetch_add(1);
      inner_covered.fetch_add(end - begin);
    });
  });
  CHECK(inner_calls.load() == 2);       // one inner call per outer chunk, not one per thread
  CHECK(inner_covered.load() == 200);  // each inner call covered [0, 100)
}

TEST_CASE("set_num_threads changes num_threads and rejects counts out of range") {
  ThreadCountGuard guard;
  set_num_threads(1);
  CHECK(num_threads() == 1);
  set_num_threads(3);
  CHECK(num_threads() == 3);
  CHECK_THROWS_WITH_AS(set_num_threads(0), doctest::Contains("got 0"), Error);
  CHECK_THROWS_WITH_AS(set_num_threads(1 << 20), doctest::Contains("expected 1 to"), Error);
}
