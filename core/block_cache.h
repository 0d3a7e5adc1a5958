#pragma once
// The bookkeeping of a caching device allocator that can record graphs (cuda/context.cu
// keeps its memory with it; tests/test_block_cache.cpp checks it on any machine).
//
// Freed blocks are kept, keyed by size, and handed out again: a training loop reaches a
// steady state with no allocation from the driver. While a graph is being recorded, the
// blocks handed out belong to that graph's private pool: the graph's kernels write
// them at fixed addresses every time it is replayed, so once freed they go back to that
// pool only, where the same recording may reuse them (the stream orders its work), and
// never to the shared cache while the graph lives. release_pool() (the graph is gone)
// returns its free blocks to the shared cache; its blocks still held by tensors follow
// when they are freed.
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
    if (recording_ != 0) owner_[block] = recording_;
  }
  // A block freed by its tensor: to its graph's pool while that graph lives, else shared.
  // A block of no live graph freed while one records joins the recording's pool: the
  // step may have read it before freeing it (a tensor made before the recording and
  // replaced in the step), and its replays read it at the same address.
  void give_back(void* block, std::size_t size) {
    auto it = owner_.find(block);
    if (it != owner_.end()) {
      auto pool = pools_.find(it->second);
      if (pool != pools_.end()) {
        pool->second.emplace(size, block);
        return;
      }
      owner_.erase(it);
    }
    if (recording_ != 0) {
      owner_[block] = recording_;
      pools_.at(recording_).emplace(size, block);
      return;
    }
    shared_.emplace(size, block);
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
  // The graph `pool` is gone: its free blocks go to the shared cache.
  void release_pool(int pool) {
    auto it = pools_.find(pool);
    if (it == pools_.end()) return;
    for (auto& [size, block] : it->second) {
      owner_.erase(block);
      shared_.emplace(size, block);
    }
    pools_.erase(it);
    if (recording_ == pool) recording_ = 0;
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
    owner_.clear();
    return blocks;
  }
  std::size_t shared_blocks() const { return shared_.size(); }
  std::size_t pool_blocks(int pool) const {
    auto it = pools_.find(pool);
    return it == pools_.end() ? 0 : it->second.size();
  }

 private:
  std::multimap<std::size_t, void*> shared_;
  std::map<int, std::multimap<std::size_t, void*>> pools_;  // the free blocks of each live graph
  std::unordered_map<void*, int> owner_;                    // block -> the graph that handed it out
  int recording_ = 0, next_pool_ = 1;
};

}  // namespace sg
