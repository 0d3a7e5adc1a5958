#pragma once
// Threads: one place decides how many threads OpenBLAS and sigmagrad's own kernels use.
//
// The count comes from set_num_threads(), else from the environment variable
// SIGMAGRAD_NUM_THREADS, else from the cores available. OpenBLAS is told the same
// count, and parallel_for never nests: a parallel_for inside another runs serially in
// the calling thread, so threads never multiply (the oversubscription that makes two
// thread pools on two cores slower than one thread).
#include <cstdint>
#include <functional>

namespace sg {

int num_threads();
void set_num_threads(int threads);

// Calls body(begin, end) on disjoint chunks covering [0, n), in parallel when n is at
// least 2 * grain and more than one thread is configured. One call per chunk (not per
// element): bodies loop over their range themselves.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

}  // namespace sg
