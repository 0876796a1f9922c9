#include "classifier-svc/watch_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/domain/errors.h"
#include "common/server/status.h"
#include "google/protobuf/util/time_util.h"

namespace uhc {
namespace {

constexpr size_t kReplayPage = 500;
// What a queued change costs in memory beyond its serialized size (the message objects, their
// strings, the queue's slot): counted against --watch_max_queued_kib so that the bound is on
// memory, not on wire bytes (a change of ~60 bytes holds ~540: classifier_limits_test).
constexpr size_t kQueuedOverhead = 480;

size_t QueuedBytes(const google::protobuf::MessageLite& message) {
  return message.ByteSizeLong() + kQueuedOverhead;
}

absl::Status FellBehind(const WatchLimits& limits) {
  return WithReason(
      absl::ResourceExhaustedError(absl::StrCat(
          "this watcher fell behind by more than ", limits.max_queued_changes, " changes or ",
          limits.max_queued_bytes / 1024,
          " KiB of queued changes; reconnect with the last resume_token (nothing is lost)")),
      reason::kWatcherBehind);
}

// Changes read from the log at a time: a page is queued whole once the queue has drained, so it
// must fit the stream's bounds (else a resumed stream under small limits never caught up).
int ReplayPage(const WatchLimits& limits) {
  size_t page = std::min({kReplayPage, limits.max_queued_changes / 2,
                          limits.max_queued_bytes / (2 * (kQueuedOverhead + 64))});
  return static_cast<int>(std::max<size_t>(page, 1));
}

struct ReplayStep {
  absl::Status status;
  bool expired = false;  // changes after `after` may have been trimmed
  std::vector<LoggedChange> page;
};

// One page of a replay after `after`; the first (`check_token`) also checks the token against
// the log.
ReplayStep ReadReplayStep(RedisClient& redis, LogPosition after, bool check_token, int page_size) {
  ReplayStep step;
  if (check_token) {
    // A token older than the trim point has lost changes (OUT_OF_RANGE), whatever the log holds
    // now; one newer than the newest entry the log ever had was never issued by it. XRANGE cannot
    // even start after the largest ID ("invalid start ID"), and such a token would wait for
    // changes the log will number differently.
    absl::StatusOr<bool> trimmed = LogTrimmedAfter(redis, after);
    step.status = trimmed.status();
    step.expired = trimmed.ok() && *trimmed;
    if (!trimmed.ok() || step.expired) return step;
    absl::StatusOr<LogPosition> newest = LastLogPosition(redis);
    if (!newest.ok()) {
      step.status = newest.status();
      return step;
    }
    if (*newest < after) {
      step.status = InvalidField(
          "resume_token",
          absl::StrCat("is newer than the change log's newest entry (", ResumeToken(*newest),
                       "): this log never issued it (was Redis replaced or restored?); read "
                       "ListTierChanges for the gap, then watch without a token"));
      return step;
    }
  }
  absl::StatusOr<std::vector<LoggedChange>> read = ReadLogAfter(redis, after, page_size);
  step.status = read.status();
  if (read.ok()) step.page = *std::move(read);
  return step;
}

}  // namespace

WatchStream::WatchStream(TierChangeHub* hub, RedisExecutor* executor, WatchStreams* streams,
                         const RegionRegistry* regions, const v1::WatchTierChangesRequest& request,
                         std::optional<LogPosition> resume, absl::Status status, std::string caller)
    : hub_(hub),
      executor_(executor),
      regions_(regions),
      request_(request),
      streams_(streams),
      caller_(std::move(caller)),
      position_(resume),
      replay_after_(resume.value_or(LogPosition{})) {
  if (status.ok()) {
    admitted_ = streams_->TryAdmit();
    if (!admitted_) {
      status = WithReason(
          absl::ResourceExhaustedError(absl::StrCat(
              "this replica serves its limit of ", streams_->limits().max_streams,
              " WatchTierChanges streams; retry with backoff (another replica may have room)")),
          reason::kStreamLimit);
    }
  }
  replaying_ = resume.has_value() && status.ok();
  if (!status.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    CloseLocked(status);
    return;
  }
  // Everything Deliver reads is set: from here on it may run on the refresher's thread.
  std::optional<LogPosition> hub_position = hub_->Subscribe(this);
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return;  // the hub was already closed: the server is shutting down
  if (replaying_) {
    FetchLocked(/*check_expiry=*/true);
    return;
  }
  if (!position_) position_ = hub_position;
  EnqueueKeepAliveLocked();  // the client learns the stream is up, and its starting token
}

bool WatchStream::Matches(const v1::TierChange& c) const {
  if (!request_.policy_id().empty() && c.policy_id() != request_.policy_id()) return false;
  if (!request_.region_code().empty() && c.region_code() != request_.region_code()) return false;
  if (!request_.province_code().empty()) {
    const Region* r = regions_->Find(c.region_code());
    if (r == nullptr) return false;
    if (r->code != request_.province_code() && r->parent_code != request_.province_code()) {
      return false;
    }
  }
  return true;
}

void WatchStream::Deliver(const LoggedChange& change) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return;
  if (replaying_) {
    const size_t bytes = QueuedBytes(change.change);
    const WatchLimits& limits = streams_->limits();
    if (live_buffer_.size() >= limits.max_queued_changes ||
        live_buffer_bytes_ + bytes > limits.max_queued_bytes) {
      std::vector<LoggedChange>().swap(live_buffer_);  // the log has them: the replay reads on
      live_buffer_bytes_ = 0;
      live_overflowed_ = true;
    }
    live_buffer_.push_back(change);
    live_buffer_bytes_ += bytes;
    peak_bytes_ = std::max(peak_bytes_, queued_bytes_ + live_buffer_bytes_);
    return;
  }
  PassLocked(change);
}

void WatchStream::PassLocked(const LoggedChange& change) {
  if (closing_ || (position_ && change.position <= *position_)) return;  // never twice
  position_ = change.position;
  if (!Matches(change.change)) return;
  v1::WatchTierChangesResponse message;
  *message.mutable_change() = change.change;
  message.set_resume_token(change.change.resume_token());
  wrote_since_tick_ = true;
  QueueLocked(std::move(message));
}

void WatchStream::QueueLocked(v1::WatchTierChangesResponse message) {
  const size_t bytes = QueuedBytes(message);
  const WatchLimits& limits = streams_->limits();
  // One message always fits an empty queue, whatever its size: the stream can always move.
  if (!queue_.empty() && (queue_.size() >= limits.max_queued_changes ||
                          queued_bytes_ + bytes > limits.max_queued_bytes)) {
    CloseLocked(FellBehind(limits));
    return;
  }
  queued_bytes_ += bytes;
  queue_.push_back(std::move(message));
  peak_bytes_ = std::max(peak_bytes_, queued_bytes_ + live_buffer_bytes_);
  WriteNextLocked();
}

void WatchStream::EnqueueKeepAliveLocked() {
  v1::WatchTierChangesResponse message;
  *message.mutable_keepalive_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
  if (position_) message.set_resume_token(ResumeToken(*position_));
  QueueLocked(std::move(message));
}

void WatchStream::KeepAlive(std::optional<LogPosition> position) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_ || replaying_) return;
  if (!position_) position_ = position;
  if (wrote_since_tick_ || writing_) {
    wrote_since_tick_ = false;
    return;
  }
  EnqueueKeepAliveLocked();
}

void WatchStream::FetchLocked(bool check_expiry) {
  fetching_ = true;
  // Changes published from now on are buffered; earlier ones are in the log this page reads.
  live_buffer_.clear();
  live_buffer_bytes_ = 0;
  live_overflowed_ = false;
  const LogPosition after = replay_after_;
  const int page_size = ReplayPage(streams_->limits());
  auto admission =
      executor_->SubmitFor(caller_, [this, after, check_expiry, page_size](RedisClient& redis) {
        ReplayStep step = ReadReplayStep(redis, after, check_expiry, page_size);
        OnFetched(std::move(step.status), step.expired, std::move(step.page));
      });
  if (admission != RedisExecutor::Admission::kQueued) {
    fetching_ = false;
    CloseLocked(admission == RedisExecutor::Admission::kStopped           ? ShuttingDown()
                : admission == RedisExecutor::Admission::kCallerQueueFull ? CallerOverloaded()
                                                                          : Overloaded());
  }
}

void WatchStream::OnFetched(absl::Status status, bool expired, std::vector<LoggedChange> page) {
  std::lock_guard<std::mutex> lock(mu_);
  fetching_ = false;
  if (closing_) {
    MaybeFinishLocked();
    return;
  }
  if (!status.ok()) {
    CloseLocked(status);
    return;
  }
  if (expired) {
    CloseLocked(WithReason(
        absl::OutOfRangeError("resume_token is older than the resume window: changes after it "
                              "were trimmed; read ListTierChanges for the gap, then "
                              "watch without a token"),
        reason::kResumeTokenExpired));
    return;
  }
  for (const LoggedChange& change : page) {
    replay_after_ = change.position;
    PassLocked(change);
  }
  if (closing_) return;
  if (page.size() == static_cast<size_t>(ReplayPage(streams_->limits())) || live_overflowed_) {
    if (queue_.empty() && !writing_) FetchLocked(/*check_expiry=*/false);
    return;  // else OnWriteDone asks for the next page once the queue has drained
  }
  // Caught up. The changes buffered meanwhile join the queue unless both would not fit: then the
  // log, which has them, is read on once the queue has drained (a reader that keeps up is never
  // ended for catching up).
  const WatchLimits& limits = streams_->limits();
  if (!live_buffer_.empty() && !queue_.empty() &&
      (queue_.size() + live_buffer_.size() > limits.max_queued_changes ||
       queued_bytes_ + live_buffer_bytes_ > limits.max_queued_bytes)) {
    live_overflowed_ = true;
    return;  // OnWriteDone asks for the next page once the queue has drained
  }
  replaying_ = false;
  std::vector<LoggedChange> buffered = std::move(live_buffer_);
  live_buffer_.clear();
  live_buffer_bytes_ = 0;
  for (const LoggedChange& change : buffered) PassLocked(change);
  if (!closing_) EnqueueKeepAliveLocked();  // caught up: live from here
}

void WatchStream::WriteNextLocked() {
  if (writing_ || finished_ || queue_.empty()) return;
  writing_ = true;
  StartWrite(&queue_.front());
}

void WatchStream::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  queued_bytes_ -= std::min(queued_bytes_, QueuedBytes(queue_.front()));
  queue_.pop_front();
  // A failed write means the call is over; it may already be closing (OnCancel can come first),
  // and either way it must still finish, or the server's shutdown waits for it forever.
  if (!ok) CloseLocked(absl::CancelledError("write failed"));
  if (closing_) {
    MaybeFinishLocked();
    return;
  }
  if (replaying_ && queue_.empty() && !fetching_) {
    FetchLocked(/*check_expiry=*/false);
    return;
  }
  WriteNextLocked();
}

void WatchStream::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  CloseLocked(WithReason(
      absl::UnavailableError("server shutting down: reconnect with the last resume_token"),
      reason::kShuttingDown));
}

void WatchStream::OnCancel() {
  std::lock_guard<std::mutex> lock(mu_);
  CloseLocked(absl::CancelledError("cancelled"));
}

void WatchStream::CloseLocked(const absl::Status& status) {
  if (closing_) return;
  closing_ = true;
  final_status_ = ToGrpcStatus(status);
  // Nothing queued will be sent (but the message being written): free it now, since a client
  // that stopped reading may hold the call open for long.
  while (queue_.size() > (writing_ ? 1u : 0u)) queue_.pop_back();
  queued_bytes_ = queue_.empty() ? 0 : QueuedBytes(queue_.front());
  std::vector<LoggedChange>().swap(live_buffer_);
  live_buffer_bytes_ = 0;
  MaybeFinishLocked();
}

void WatchStream::MaybeFinishLocked() {
  if (finished_ || writing_ || fetching_) return;
  finished_ = true;
  Finish(final_status_);
}

void WatchStream::OnDone() {
  // Finish may have been called under mu_ by a thread that still holds it (OnFetched on an
  // executor thread): wait for it to let go before the object goes.
  { std::lock_guard<std::mutex> lock(mu_); }
  hub_->Unsubscribe(this);
  if (admitted_) streams_->Leave(peak_bytes_);
  delete this;
}

}  // namespace uhc
