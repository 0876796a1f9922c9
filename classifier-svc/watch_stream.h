#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "classifier-svc/change_hub.h"
#include "classifier-svc/watch_limits.h"
#include "common/domain/regions.h"
#include "common/redis/executor.h"
#include "grpcpp/grpcpp.h"
#include "uhc/v1/classifier.pb.h"

namespace uhc {

// One WatchTierChanges stream. Owns its state and deletes itself in OnDone.
//
// Live: every change the hub publishes (the change log, in order) passes through Pass(), which
// filters it and queues it with its resume token; one write at a time. Resumed (a token was
// given): the log after the token is read page by page on the executor, each page only once the
// queue has drained, while the hub's live changes are buffered; when a page comes back short
// (caught up) and the buffer did not overflow since that page was asked for, the buffer's
// changes newer than the last one sent follow and the stream is live. Every change is sent at
// most once (positions only grow) and none is skipped.
//
// A stream that falls behind by more than the WatchLimits (changes or bytes queued) ends with
// RESOURCE_EXHAUSTED rather than growing memory, and drops what it queued at once (its client
// may never read again); its client reconnects with the last token and misses nothing. A resume
// token newer than the log's newest entry is INVALID_ARGUMENT: this log never issued it.
class WatchStream final : public grpc::ServerWriteReactor<v1::WatchTierChangesResponse>,
                          public TierChangeSubscriber {
 public:
  // Finishes at once with `status` unless it is OK, and with RESOURCE_EXHAUSTED when `streams`
  // has no room. `resume`: the position after which to replay the log. `caller`: whose share of
  // the executor the replay's reads take (UnaryCalls::CallerKey). Pointers are not owned and
  // must outlive the stream.
  WatchStream(TierChangeHub* hub, RedisExecutor* executor, WatchStreams* streams,
              const RegionRegistry* regions, const v1::WatchTierChangesRequest& request,
              std::optional<LogPosition> resume, absl::Status status, std::string caller);

  void Deliver(const LoggedChange& change) override;
  void KeepAlive(std::optional<LogPosition> position) override;
  void Close() override;

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  bool Matches(const v1::TierChange& c) const;
  void PassLocked(const LoggedChange& change);
  void EnqueueKeepAliveLocked();
  void FetchLocked(bool check_expiry);
  void OnFetched(absl::Status status, bool expired, std::vector<LoggedChange> page);
  void WriteNextLocked();
  // Queues `message`, or ends the stream when that would exceed the per-stream limits.
  void QueueLocked(v1::WatchTierChangesResponse message);
  void CloseLocked(const absl::Status& status);
  void MaybeFinishLocked();

  TierChangeHub* const hub_;
  RedisExecutor* const executor_;
  const RegionRegistry* const regions_;
  const v1::WatchTierChangesRequest request_;
  WatchStreams* const streams_;
  const std::string caller_;
  bool admitted_ = false;

  std::mutex mu_;
  std::deque<v1::WatchTierChangesResponse> queue_;  // front is being written while writing_
  size_t queued_bytes_ = 0;                         // serialized size of queue_
  size_t peak_bytes_ = 0;                           // of queue_ plus live_buffer_
  bool writing_ = false;
  bool wrote_since_tick_ = false;
  bool closing_ = false;
  bool finished_ = false;
  grpc::Status final_status_;
  // The last change passed (sent or filtered out): the keep-alive token. Unknown until the hub
  // or a replay tells.
  std::optional<LogPosition> position_;
  // Replay of a resumed stream.
  bool replaying_ = false;
  bool fetching_ = false;  // a page read is on the executor: the stream must not finish
  LogPosition replay_after_;
  std::vector<LoggedChange> live_buffer_;  // live changes that arrived during the replay
  size_t live_buffer_bytes_ = 0;
  bool live_overflowed_ = false;
};

}  // namespace uhc
