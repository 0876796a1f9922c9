#pragma once

#include <cstddef>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace uhc {

// What WatchTierChanges may hold on one replica. A stream that falls behind by more than either
// per-stream bound ends with RESOURCE_EXHAUSTED (its client resumes with its last token and
// misses nothing); a stream beyond max_streams is refused with RESOURCE_EXHAUSTED.
struct WatchLimits {
  size_t max_streams = 1000;
  size_t max_queued_changes = 10000;
  size_t max_queued_bytes = 1 << 20;  // serialized size of the queued responses
};

// The live streams of a replica, counted against WatchLimits::max_streams, and the memory the
// ones that left had held. Thread-safe.
class WatchStreams {
 public:
  explicit WatchStreams(const WatchLimits& limits) : limits_(limits) {}

  const WatchLimits& limits() const { return limits_; }

  // False (nothing counted) when max_streams are live.
  bool TryAdmit() {
    std::lock_guard<std::mutex> lock(mu_);
    if (live_ >= limits_.max_streams) return false;
    ++live_;
    return true;
  }
  // An admitted stream ended; at its fullest it held `peak_bytes` of queued responses.
  void Leave(size_t peak_bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    --live_;
    released_ += peak_bytes;
  }
  size_t live() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_;
  }
  // Bytes held by streams that left since the last call; resets the count.
  size_t TakeReleased() {
    std::lock_guard<std::mutex> lock(mu_);
    size_t released = released_;
    released_ = 0;
    return released;
  }

 private:
  const WatchLimits limits_;
  mutable std::mutex mu_;
  size_t live_ ABSL_GUARDED_BY(mu_) = 0;
  size_t released_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace uhc
