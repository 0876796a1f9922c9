#include "enrollment-svc/batch_group.h"

#include "enrollment-svc/event_applier.h"

namespace uhc {

absl::Status BatchGroup::Apply(RedisClient& redis, const std::vector<PreparedEvent>& events,
                               v1::IngestEventsResponse* response,
                               std::vector<uint8_t>* result_bytes) {
  Pending mine{&events, response, result_bytes, absl::OkStatus()};
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&mine);
  queued_events_ += events.size();
  cv_.notify_all();
  while (true) {
    // Lead when fewer than `concurrent_` groups run, or when a full group is waiting anyway
    // (waiting longer would not make it bigger).
    cv_.wait(lock,
             [&] { return mine.done || running_ < concurrent_ || queued_events_ >= max_events_; });
    if (mine.done) return mine.status;
    // Lead the next group: the waiting batches in arrival order, up to max_events_ events.
    ++running_;
    std::vector<Pending*> group;
    size_t total = 0;
    while (!queue_.empty() &&
           (group.empty() || total + queue_.front()->events->size() <= max_events_)) {
      total += queue_.front()->events->size();
      group.push_back(queue_.front());
      queue_.pop_front();
    }
    queued_events_ -= total;
    lock.unlock();
    Run(redis, group);
    lock.lock();
    for (Pending* p : group) p->done = true;
    --running_;
    cv_.notify_all();
  }
}

size_t BatchGroup::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

int64_t BatchGroup::regrouped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return regrouped_;
}

void BatchGroup::Run(RedisClient& redis, const std::vector<Pending*>& group) {
  if (group.size() == 1) {
    Pending& p = *group[0];
    p.status = apply_(redis, *p.events, p.response, p.result_bytes);
    return;
  }
  std::vector<PreparedEvent> all;
  for (const Pending* p : group) all.insert(all.end(), p->events->begin(), p->events->end());
  v1::IngestEventsResponse merged;
  std::vector<uint8_t> bytes;
  absl::Status status = apply_(redis, all, &merged, &bytes);
  if (status.ok() &&
      (merged.results_size() != static_cast<int>(all.size()) || bytes.size() != all.size())) {
    status = absl::InternalError("a group's results do not match its events");
  }
  if (!status.ok() && !absl::IsUnavailable(status)) {
    // One batch may be at fault (a bad call, a key of another type, a limit): the others must not
    // fail with it. Unreachable Redis fails them all alike, so they are not tried one by one.
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++regrouped_;
    }
    if (regroups_) regroups_->Increment();
    for (Pending* p : group) p->status = apply_(redis, *p->events, p->response, p->result_bytes);
    return;
  }
  size_t next = 0;  // merged has one result per event, in the order of `all`
  for (Pending* p : group) {
    p->status = status;
    p->response->clear_results();
    if (status.ok()) {
      for (size_t i = 0; i < p->events->size(); ++i) {
        *p->response->add_results() = merged.results(static_cast<int>(next + i));
      }
      if (p->result_bytes) {
        p->result_bytes->assign(
            bytes.begin() + static_cast<std::ptrdiff_t>(next),
            bytes.begin() + static_cast<std::ptrdiff_t>(next + p->events->size()));
      }
      next += p->events->size();
    }
    CountOutcomes(p->response);
  }
}

}  // namespace uhc
