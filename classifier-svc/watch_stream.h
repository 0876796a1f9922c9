#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "classifier-svc/change_hub.h"
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
// A stream that falls `max_queued` changes behind ends with RESOURCE_EXHAUSTED rather than
// growing memory; its client reconnects with the last token and misses nothing.
class WatchStream final : public grpc::ServerWriteReactor<v1::WatchTierChangesResponse>,
                          public TierChangeSubscriber {
 public:
  // Finishes at once with `status` unless it is OK. `resume`: the position after which to
  // replay the log. Pointers are not owned and must outlive the stream.
  WatchStream(TierChangeHub* hub, RedisExecutor* executor, const RegionRegistry* regions,
              const v1::WatchTierChangesRequest& request, std::optional<LogPosition> resume,
              const absl::Status& status, size_t max_queued);

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
  void CloseLocked(const absl::Status& status);
  void MaybeFinishLocked();

  TierChangeHub* const hub_;
  RedisExecutor* const executor_;
  const RegionRegistry* const regions_;
  const v1::WatchTierChangesRequest request_;
  const size_t max_queued_;

  std::mutex mu_;
  std::deque<v1::WatchTierChangesResponse> queue_;  // front is being written while writing_
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
  bool live_overflowed_ = false;
};

}  // namespace uhc
