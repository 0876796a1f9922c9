#include "enrollment-svc/batch_group.h"

#include "enrollment-svc/event_applier.h"

namespace uhc {

absl::Status BatchGroup::Apply(RedisClient& redis, const std::vector<PreparedEvent>& events,
                               v1::IngestEventsResponse* response) {
  Pending mine{&events, response, absl::OkStatus()};
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&mine);
  queued_events_ += events.size();
  cv_.notify_all();
  while (true) {
    // Lead when no group runs, or when a full group is waiting anyway (waiting longer would
    // not make it bigger).
    cv_.wait(lock, [&] { return mine.done || running_ == 0 || queued_events_ >= max_events_; });
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

void BatchGroup::Run(RedisClient& redis, const std::vector<Pending*>& group) {
  if (group.size() == 1) {
    group[0]->status = apply_(redis, *group[0]->events, group[0]->response);
    return;
  }
  std::vector<PreparedEvent> all;
  for (const Pending* p : group) all.insert(all.end(), p->events->begin(), p->events->end());
  v1::IngestEventsResponse merged;
  absl::Status status = apply_(redis, all, &merged);
  if (status.ok() && merged.results_size() != static_cast<int>(all.size())) {
    status = absl::InternalError("a group's results do not match its events");
  }
  int next = 0;  // merged has one result per event, in the order of `all`
  for (Pending* p : group) {
    p->status = status;
    p->response->clear_results();
    if (status.ok()) {
      for (size_t i = 0; i < p->events->size(); ++i) {
        *p->response->add_results() = merged.results(next++);
      }
    }
    CountOutcomes(p->response);
  }
}

}  // namespace uhc
