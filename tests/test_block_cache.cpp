// core/block_cache.h: the CUDA allocator's bookkeeping, checked here on any machine with
// stand-in addresses (nothing is dereferenced). What a recorded graph needs: the blocks
// it was given are never handed to anyone else while it lives.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/block_cache.h"

using namespace sg;

namespace {
void* block(std::uintptr_t n) { return reinterpret_cast<void*>(n * 4096); }

// Two graphs that both use block `p` of 512 bytes: the first was handed it while
// recording (its output, written on every replay), the second read and freed it while
// recording (its replays read it too). The second is still recording on return.
struct TwoGraphs {
  int first, second;
};
TwoGraphs block_freed_inside_a_second_recording(BlockCache& cache, void* p) {
  const int first = cache.begin_recording();
  cache.adopt(p);
  cache.end_recording();
  const int second = cache.begin_recording();
  cache.give_back(p, 512);
  return {first, second};
}
}  // namespace

TEST_CASE("block cache: a freed block is handed out again for the same size, not for another") {
  BlockCache cache;
  cache.give_back(block(1), 512);
  CHECK(cache.take(1024) == nullptr);
  CHECK(cache.take(512) == block(1));
  CHECK(cache.take(512) == nullptr);  // taken once only
}

TEST_CASE("block cache: blocks handed out while a graph records go back to its pool, not to the shared cache") {
  BlockCache cache;
  const int pool = cache.begin_recording();
  void* p = block(1);
  cache.adopt(p);  // as if just allocated from the driver inside the recording
  cache.give_back(p, 512);
  CHECK(cache.pool_blocks(pool) == 1);
  CHECK(cache.shared_blocks() == 0);
  CHECK(cache.take(512) == p);  // the same recording may reuse it (the stream orders its work)
  cache.give_back(p, 512);
  cache.end_recording();
  // After the recording, eager work must not get it: the graph writes it on every replay.
  CHECK(cache.take(512) == nullptr);
}

TEST_CASE("block cache: a shared block taken while recording becomes the graph's") {
  BlockCache cache;
  cache.give_back(block(2), 1024);  // freed by eager work before the recording
  const int pool = cache.begin_recording();
  void* p = cache.take(1024);
  CHECK(p == block(2));
  cache.end_recording();
  cache.give_back(p, 1024);  // freed later, e.g. when a tensor made in the step is replaced
  CHECK(cache.pool_blocks(pool) == 1);
  CHECK(cache.take(1024) == nullptr);
}

TEST_CASE("block cache: a block made before the recording and freed during it stays with the graph") {
  BlockCache cache;
  void* before = block(6);  // e.g. a state tensor that the step reads, then replaces
  const int pool = cache.begin_recording();
  cache.give_back(before, 2048);
  CHECK(cache.pool_blocks(pool) == 1);
  CHECK(cache.shared_blocks() == 0);
  cache.end_recording();
  CHECK(cache.take(2048) == nullptr);  // the replays still read it: eager work must not get it
  CHECK(cache.drain_shared().empty());  // nor may running out of memory free it
  cache.release_pool(pool);
  CHECK(cache.take(2048) == before);  // the graph is gone
}

TEST_CASE("block cache: releasing a graph's pool returns its free blocks and, later, its held ones") {
  BlockCache cache;
  const int pool = cache.begin_recording();
  void* freed = block(3);
  void* held = block(4);
  cache.adopt(freed);
  cache.adopt(held);
  cache.give_back(freed, 512);
  cache.end_recording();
  cache.release_pool(pool);  // the graph is gone
  CHECK(cache.pool_blocks(pool) == 0);
  CHECK(cache.take(512) == freed);
  cache.give_back(held, 512);  // a tensor made in the step, freed after its graph
  CHECK(cache.take(512) == held);
}

TEST_CASE("block cache: two recordings at once are refused, and the pools of two graphs stay apart") {
  BlockCache cache;
  const int first = cache.begin_recording();
  CHECK_THROWS_WITH(cache.begin_recording(), doctest::Contains("already being recorded"));
  cache.adopt(block(5));
  cache.end_recording();
  const int second = cache.begin_recording();
  CHECK(second != first);
  cache.give_back(block(5), 512);  // the first graph's block, freed while the second records:
  CHECK(cache.pool_blocks(first) == 1);  // back to the first graph's pool,
  CHECK(cache.take(512) == nullptr);     // not handed to the second
  cache.end_recording();
  CHECK(cache.drain_all().size() == 1);
}

TEST_CASE("block cache: a block of a graph that is gone, freed while another records, joins the recording") {
  BlockCache cache;
  const int first = cache.begin_recording();
  void* p = block(7);
  cache.adopt(p);  // the first graph's, held by a tensor
  cache.end_recording();
  cache.release_pool(first);  // the first graph is gone; p is still held
  const int second = cache.begin_recording();
  cache.give_back(p, 512);  // freed inside the second recording, which may have read it
  CHECK(cache.pool_blocks(second) == 1);
  CHECK(cache.shared_blocks() == 0);
  cache.end_recording();
  CHECK(cache.take(512) == nullptr);
}

TEST_CASE("block cache: drain_all returns every free block once, shared or pooled, and none still held") {
  BlockCache cache;
  cache.give_back(block(8), 512);  // shared
  const int pool = cache.begin_recording();
  void* pooled = block(9);
  void* held = block(10);
  cache.adopt(pooled);
  cache.adopt(held);
  cache.give_back(pooled, 1024);  // free, in the live graph's pool
  cache.end_recording();
  std::vector<void*> drained = cache.drain_all();
  std::sort(drained.begin(), drained.end());
  CHECK(drained == std::vector<void*>{block(8), block(9)});  // not `held`: a tensor still has it
  CHECK(cache.drain_all().empty());                          // each block once: no double free at exit
  CHECK(cache.pool_blocks(pool) == 0);
}

TEST_CASE("block cache: a block of two graphs reaches the shared cache only when both are gone") {
  BlockCache cache;
  void* p = block(11);
  const auto [first, second] = block_freed_inside_a_second_recording(cache, p);
  cache.end_recording();
  cache.release_pool(first);             // the first graph is gone, the second still replays:
  CHECK(cache.pool_blocks(second) == 1);  // the block passes to the second graph's pool,
  CHECK(cache.shared_blocks() == 0);
  CHECK(cache.take(512) == nullptr);      // out of eager work's reach
  CHECK(cache.drain_shared().empty());
  cache.release_pool(second);
  CHECK(cache.take(512) == p);
}

TEST_CASE("block cache: a block passed on while its new graph records can be reused by that recording, and drains once") {
  BlockCache cache;
  void* p = block(13);
  const auto [first, second] = block_freed_inside_a_second_recording(cache, p);  // free in the first's pool
  CHECK(cache.take(512) == nullptr);      // not the second recording's to take yet
  cache.release_pool(first);              // the first graph is gone
  CHECK(cache.pool_blocks(second) == 1);
  CHECK(cache.take(512) == p);            // the recording may reuse it: the stream orders its work
  cache.give_back(p, 512);
  cache.end_recording();
  CHECK(cache.drain_all() == std::vector<void*>{p});  // once: no double free at exit
}

TEST_CASE("block cache: a block of two graphs, the later one released first, is shared once the earlier one goes") {
  BlockCache cache;
  void* p = block(12);
  const auto [first, second] = block_freed_inside_a_second_recording(cache, p);
  cache.end_recording();
  cache.release_pool(second);
  CHECK(cache.pool_blocks(first) == 1);  // still the first graph's
  CHECK(cache.take(512) == nullptr);
  cache.release_pool(first);
  CHECK(cache.take(512) == p);
}
