#include "classifier-svc/watch_stream.h"

#include "absl/strings/str_cat.h"
#include "common/server/status.h"
#include "google/protobuf/util/time_util.h"

namespace uhc {
namespace {

constexpr int kReplayPage = 500;

}  // namespace

WatchStream::WatchStream(TierChangeHub* hub, RedisExecutor* executor, const RegionRegistry* regions,
                         const v1::WatchTierChangesRequest& request,
                         std::optional<LogPosition> resume, const absl::Status& status,
                         size_t max_queued)
    : hub_(hub),
      executor_(executor),
      regions_(regions),
      request_(request),
      max_queued_(max_queued),
      position_(resume),
      replaying_(resume.has_value() && status.ok()),
      replay_after_(resume.value_or(LogPosition{})) {
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
    if (live_buffer_.size() >= max_queued_) {
      live_buffer_.clear();  // the log has them: the replay reads on
      live_overflowed_ = true;
    }
    live_buffer_.push_back(change);
    return;
  }
  PassLocked(change);
}

void WatchStream::PassLocked(const LoggedChange& change) {
  if (closing_ || (position_ && change.position <= *position_)) return;  // never twice
  position_ = change.position;
  if (!Matches(change.change)) return;
  if (queue_.size() >= max_queued_) {
    CloseLocked(absl::ResourceExhaustedError(
        absl::StrCat("this watcher fell ", max_queued_,
                     " changes behind; reconnect with the last resume_token (nothing is lost)")));
    return;
  }
  v1::WatchTierChangesResponse message;
  *message.mutable_change() = change.change;
  message.set_resume_token(change.change.resume_token());
  queue_.push_back(std::move(message));
  wrote_since_tick_ = true;
  WriteNextLocked();
}

void WatchStream::EnqueueKeepAliveLocked() {
  v1::WatchTierChangesResponse message;
  *message.mutable_keepalive() = google::protobuf::util::TimeUtil::GetCurrentTime();
  if (position_) message.set_resume_token(ResumeToken(*position_));
  queue_.push_back(std::move(message));
  WriteNextLocked();
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
  live_overflowed_ = false;
  const LogPosition after = replay_after_;
  bool queued = executor_->Submit([this, after, check_expiry](RedisClient& redis) {
    absl::Status status;
    bool expired = false;
    if (check_expiry) {
      absl::StatusOr<bool> trimmed = LogTrimmedAfter(redis, after);
      status = trimmed.status();
      expired = trimmed.ok() && *trimmed;
    }
    std::vector<LoggedChange> page;
    if (status.ok() && !expired) {
      absl::StatusOr<std::vector<LoggedChange>> read = ReadLogAfter(redis, after, kReplayPage);
      status = read.status();
      if (read.ok()) page = *std::move(read);
    }
    OnFetched(std::move(status), expired, std::move(page));
  });
  if (!queued) {
    fetching_ = false;
    CloseLocked(Overloaded());
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
    CloseLocked(
        absl::OutOfRangeError("resume_token is older than the resume window: changes after it "
                              "were trimmed; read ListTierChanges for the gap, then "
                              "watch without a token"));
    return;
  }
  for (const LoggedChange& change : page) {
    replay_after_ = change.position;
    PassLocked(change);
  }
  if (closing_) return;
  if (page.size() == static_cast<size_t>(kReplayPage) || live_overflowed_) {
    if (queue_.empty() && !writing_) FetchLocked(/*check_expiry=*/false);
    return;  // else OnWriteDone asks for the next page once the queue has drained
  }
  replaying_ = false;
  std::vector<LoggedChange> buffered = std::move(live_buffer_);
  live_buffer_.clear();
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
  CloseLocked(absl::UnavailableError("server shutting down: reconnect with the last resume_token"));
}

void WatchStream::OnCancel() {
  std::lock_guard<std::mutex> lock(mu_);
  CloseLocked(absl::CancelledError("cancelled"));
}

void WatchStream::CloseLocked(const absl::Status& status) {
  if (closing_) return;
  closing_ = true;
  final_status_ = ToGrpcStatus(status);
  MaybeFinishLocked();
}

void WatchStream::MaybeFinishLocked() {
  if (finished_ || writing_ || fetching_) return;
  finished_ = true;
  Finish(final_status_);
}

void WatchStream::OnDone() {
  hub_->Unsubscribe(this);
  delete this;
}

}  // namespace uhc
