#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/domain/event_rules.h"
#include "common/observability/metrics.h"
#include "common/redis/client.h"
#include "uhc/v1/enrollment.pb.h"

namespace uhc {

// Applies the batches that executor threads hand in at the same time together, as one (group
// commit). Redis's CPU per event falls with the events per call: every region a call touches
// costs a read and a write of its aggregate, however many of the call's events it has, and a
// 2,000-event batch spread over 514 kab/kota touches almost all of them (docs/BENCHMARKS.md).
//
// A thread that finds fewer than `concurrent` groups running becomes the leader: it takes the
// waiting batches in arrival order, up to `max_events` events (at least one batch, whatever its
// size), applies them with its own connection and hands every batch its own results; the others
// wait while the groups run, so the next group gathers what arrives meanwhile. Waiting stops once
// `max_events` events wait (a full group: waiting would not make it bigger); that group then runs
// beside the others, so batches as large as `max_events` never wait for each other. A batch's
// events stay in order; batches in flight at the same time have no order between them, as before
// grouping. If a group of several batches fails for any reason but Redis being unreachable, each of
// its batches is applied again alone, so only a batch at fault fails and every other is applied
// (exactly once: a call either applies whole or changes nothing, and events already applied by the
// group's calls that succeeded answer DUPLICATE). A batch that fails gets the error, and nothing of
// it is reported applied (a retry is safe, events are idempotent).
class BatchGroup {
 public:
  // How a group is applied: ApplyEvents with the service's settings, or a fake in tests.
  // The last argument, when not null, gets each event's result byte (ApplyEvents).
  using ApplyFn =
      std::function<absl::Status(RedisClient&, const std::vector<PreparedEvent>&,
                                 v1::IngestEventsResponse*, std::vector<uint8_t>* result_bytes)>;

  // `regroups` (may be null) counts groups applied again batch by batch. Up to `concurrent`
  // groups run at once (besides full ones): the apply is exact whatever the order, so a group
  // may start while another waits for its follow-ups.
  BatchGroup(size_t max_events, ApplyFn apply, Counter* regroups = nullptr, int concurrent = 1)
      : max_events_(max_events),
        concurrent_(concurrent),
        apply_(std::move(apply)),
        regroups_(regroups) {}

  // Applies one batch's prepared events, maybe with others, and fills `response`'s results and
  // counts as ApplyEvents does (and `result_bytes`, when given). Blocks until this batch's group
  // is done.
  absl::Status Apply(RedisClient& redis, const std::vector<PreparedEvent>& events,
                     v1::IngestEventsResponse* response,
                     std::vector<uint8_t>* result_bytes = nullptr);

  // Groups that failed and were applied again batch by batch (for tests and metrics).
  int64_t regrouped() const;

  // Batches handed in and not yet taken by a leader (for tests).
  size_t waiting() const;

 private:
  struct Pending {
    const std::vector<PreparedEvent>* events;
    v1::IngestEventsResponse* response;
    std::vector<uint8_t>* result_bytes;
    absl::Status status;
    bool done = false;
  };

  // Applies `group` as one and gives each batch its results (or the error).
  void Run(RedisClient& redis, const std::vector<Pending*>& group);

  const size_t max_events_;
  const int concurrent_;
  const ApplyFn apply_;
  Counter* const regroups_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;  // events of the batches in queue_
  int running_ ABSL_GUARDED_BY(mu_) = 0;           // groups being applied
  int64_t regrouped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace uhc
