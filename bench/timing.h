#pragma once
// The one timing loop of bench/ (the protocol of docs/reference_models.md): `warmup`
// untimed calls (caches, the allocator's pool and the thread pool settle), then `timed`
// calls, each measured with the steady clock on its own, reported as min / median / max.
// A call must finish its work before it returns (on a GPU: read a result back), so that
// each measurement covers the whole call.
#include <algorithm>
#include <chrono>
#include <vector>

namespace sg::bench {

struct Timing {
  double min_ms, median_ms, max_ms;
  int timed;
};

template <class Call>
Timing time_calls(int warmup, int timed, Call&& call) {
  for (int i = 0; i < warmup; ++i) call();
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(timed));
  for (int i = 0; i < timed; ++i) {
    const auto start = std::chrono::steady_clock::now();
    call();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms.front(), ms[ms.size() / 2], ms.back(), timed};
}

}  // namespace sg::bench
