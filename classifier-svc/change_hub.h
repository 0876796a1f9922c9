#pragma once

#include <mutex>
#include <set>
#include <vector>

#include "uhc/v1/classifier.pb.h"

namespace uhc {

// Receives tier changes. Deliver is called with the hub's lock held: it must only queue, never
// block or call back into the hub.
class TierChangeSubscriber {
 public:
  virtual ~TierChangeSubscriber() = default;
  virtual void Deliver(const v1::TierChange& change) = 0;
  virtual void KeepAlive() = 0;
  virtual void Close() = 0;
};

// Fans tier changes out to the live WatchTierChanges streams of this replica. Thread-safe.
class TierChangeHub {
 public:
  void Subscribe(TierChangeSubscriber* s) {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers_.insert(s);
  }
  // After this returns, `s` receives nothing more (so it may be deleted).
  void Unsubscribe(TierChangeSubscriber* s) {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers_.erase(s);
  }
  void Publish(const std::vector<v1::TierChange>& changes) {
    std::lock_guard<std::mutex> lock(mu_);
    for (TierChangeSubscriber* s : subscribers_) {
      for (const v1::TierChange& c : changes) s->Deliver(c);
    }
  }
  void KeepAliveAll() {
    std::lock_guard<std::mutex> lock(mu_);
    for (TierChangeSubscriber* s : subscribers_) s->KeepAlive();
  }
  // Shutdown: every stream finishes.
  void CloseAll() {
    std::lock_guard<std::mutex> lock(mu_);
    for (TierChangeSubscriber* s : subscribers_) s->Close();
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return subscribers_.size();
  }

 private:
  std::mutex mu_;
  std::set<TierChangeSubscriber*> subscribers_;
};

}  // namespace uhc
