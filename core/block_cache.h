#pragma once
// The bookkeeping of a caching device allocator that can record graphs (cuda/context.cu
// keeps its memory with it; tests/test_block_cache.cpp checks it on any machine).
//
// Freed blocks are kept, keyed by size, and handed out again: a training loop reaches a
// steady state with no allocation from the driver. While a graph is being recorded, the
// blocks handed out belong to that graph's private pool: the graph's kernels write
// them at fixed addresses every time it is replayed, so once freed they go back to that
// pool only, where the same recording may reuse them (the stream orders its work), and
// never to the shared cache while the graph lives. A block can belong to several graphs
// (one graph's output, read and freed inside another's recording): it reaches the shared
// cache only when every graph that was handed it, or freed it while recording, is gone.
// A block a graph only reads is not tracked: its tensor must outlive the graph's
// replays. release_pool() (the graph is gone) passes its free blocks on to another live
// graph that uses them, or else to the shared cache; its blocks still held by tensors
// follow the same rule when they are freed.
#include <algorithm>
#include <cstddef>
#include <map>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace sg {

class BlockCache {
 public:
  // A cached block of exactly `size` bytes for whoever allocates now (the recording
  // graph's pool first, then the shared cache), or nullptr: then the caller gets one from
  // the driver and calls adopt().
  void* take(std::size_t size) {
    if (recording_ != 0) {
      auto& own = pools_.at(recording_);
      auto it = own.find(size);
      if (it != own.end()) {
        void* block = it->second;
        own.erase(it);
        return block;
      }
    }
    auto it = shared_.find(size);
    if (it == shared_.end()) return nullptr;
    void* block = it->second;
    shared_.erase(it);
    adopt(block);
    return block;
  }
  // `block` is handed out now: while a graph records, it becomes that graph's.
  void adopt(void* block) {
    if (recording_ != 0) owners_[block] = {recording_};
  }
  // A block freed by its tensor: to the pool of a live graph that uses it, else shared.
  // A block freed while a graph records joins that graph too: the step may have read it
  // before freeing it (a tensor made before the recording, or by another graph, replaced
  // in the step), and its replays read it at the same address. The block stays in the
  // pool of the graph that had it first, so a later recording never writes over it while
  // that graph lives.
  void give_back(void* block, std::size_t size) {
    std::vector<int> users = live_users(block);
    if (recording_ != 0 && std::find(users.begin(), users.end(), recording_) == users.end())
      users.push_back(recording_);
    park(block, size, std::move(users));
  }
  // A graph starts recording: blocks handed out until end_recording() are its own.
  int begin_recording() {
    SG_CHECK(recording_ == 0, "a graph is already being recorded (expected one recording at a time)");
    recording_ = next_pool_++;
    pools_[recording_];
    return recording_;
  }
  // The recording ends; returns its pool (0 if none was recording).
  int end_recording() {
    const int pool = recording_;
    recording_ = 0;
    return pool;
  }
  bool recording() const { return recording_ != 0; }
  // The graph `pool` is gone: each of its free blocks goes to another live graph that
  // uses it, or else to the shared cache.
  void release_pool(int pool) {
    auto it = pools_.find(pool);
    if (it == pools_.end()) return;
    std::multimap<std::size_t, void*> free = std::move(it->second);
    pools_.erase(it);
    if (recording_ == pool) recording_ = 0;
    for (auto& [size, block] : free) park(block, size, live_users(block));
  }
  // The shared cache's blocks, removed from it (to be freed when the driver runs out).
  std::vector<void*> drain_shared() {
    std::vector<void*> blocks;
    for (auto& [size, block] : shared_) blocks.push_back(block);
    shared_.clear();
    return blocks;
  }
  // Every cached block, shared or in a graph's pool (to be freed at exit).
  std::vector<void*> drain_all() {
    std::vector<void*> blocks = drain_shared();
    for (auto& [pool, free] : pools_)
      for (auto& [size, block] : free) blocks.push_back(block);
    pools_.clear();
    owners_.clear();
    return blocks;
  }
  std::size_t shared_blocks() const { return shared_.size(); }
  std::size_t pool_blocks(int pool) const {
    auto it = pools_.find(pool);
    return it == pools_.end() ? 0 : it->second.size();
  }

 private:
  // The graphs still alive that use `block` (forgetting those that are gone).
  std::vector<int> live_users(void* block) {
    auto it = owners_.find(block);
    if (it == owners_.end()) return {};
    std::vector<int> users;
    for (int graph : it->second)
      if (pools_.count(graph) != 0) users.push_back(graph);
    owners_.erase(it);
    return users;
  }
  // A free block: into the pool of the first of its live users, or shared if none.
  void park(void* block, std::size_t size, std::vector<int> users) {
    if (users.empty()) {
      shared_.emplace(size, block);
      return;
    }
    pools_.at(users.front()).emplace(size, block);
    owners_[block] = std::move(users);
  }

  std::multimap<std::size_t, void*> shared_;
  std::map<int, std::multimap<std::size_t, void*>> pools_;  // the free blocks of each live graph
  std::unordered_map<void*, std::vector<int>> owners_;      // block -> the live graphs that use it, first owner first
  int recording_ = 0, next_pool_ = 1;
};

}  // namespace sg
