#pragma once

#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "classifier-svc/tier_log.h"
#include "common/observability/metrics.h"

namespace uhc {

// Receives logged tier changes. Called with the hub's lock held: implementations only queue,
// never block or call back into the hub.
class TierChangeSubscriber {
 public:
  virtual ~TierChangeSubscriber() = default;
  // Every change the log receives, in log order (the subscriber filters).
  virtual void Deliver(const LoggedChange& change) = 0;
  // `position`: the hub's log position, if known.
  virtual void KeepAlive(std::optional<LogPosition> position) = 0;
  virtual void Close() = 0;
};

// Fans the change log out to the live WatchTierChanges streams of this replica, in log order.
// The refresher is its only publisher. Thread-safe.
class TierChangeHub {
 public:
  // Returns the hub's log position (every change up to it was published before `s` subscribed;
  // every later one will be delivered to it), if known yet.
  // After CloseAll, `s` is closed at once (a stream that raced the shutdown must still finish).
  std::optional<LogPosition> Subscribe(TierChangeSubscriber* s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) s->Close();
    subscribers_.insert(s);
    if (gauge_ != nullptr) gauge_->Set(static_cast<double>(subscribers_.size()));
    return position_;
  }
  // After this returns, `s` receives nothing more (so it may be deleted).
  void Unsubscribe(TierChangeSubscriber* s) {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers_.erase(s);
    if (gauge_ != nullptr) gauge_->Set(static_cast<double>(subscribers_.size()));
  }
  size_t subscribers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return subscribers_.size();
  }
  // Where the number of live streams is published. Set before the first Subscribe.
  void set_gauge(Gauge* gauge) { gauge_ = gauge; }
  // Where the log stood when the publisher started reading it.
  void SetPosition(LogPosition position) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!position_ || *position_ < position) position_ = position;
  }
  void Publish(const std::vector<LoggedChange>& changes) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const LoggedChange& c : changes) {
      if (position_ && c.position <= *position_) continue;  // never twice
      position_ = c.position;
      for (TierChangeSubscriber* s : subscribers_) s->Deliver(c);
    }
  }
  void KeepAliveAll() {
    std::lock_guard<std::mutex> lock(mu_);
    for (TierChangeSubscriber* s : subscribers_) s->KeepAlive(position_);
  }
  // Shutdown: every stream finishes, and so does every stream that subscribes later.
  void CloseAll() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (TierChangeSubscriber* s : subscribers_) s->Close();
  }
  std::optional<LogPosition> position() {
    std::lock_guard<std::mutex> lock(mu_);
    return position_;
  }

 private:
  mutable std::mutex mu_;
  std::set<TierChangeSubscriber*> subscribers_;
  bool closed_ = false;
  std::optional<LogPosition> position_;
  Gauge* gauge_ = nullptr;
};

}  // namespace uhc
