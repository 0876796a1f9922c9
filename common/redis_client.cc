#include "absl/strings/string_view.h"
#include "common/redis_client.h"

#include <sys/time.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace uhc {
absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const RedisOptions& options) {
  timeval connect_timeout = absl::ToTimeval(options.connect_timeout);
  redisContext* raw =
      redisConnectWithTimeout(options.host.c_str(), options.port, connect_timeout);
  if (raw == nullptr) return absl::UnavailableError("redis: cannot allocate context");
  std::unique_ptr<RedisConnection> conn(new RedisConnection(raw));
  if (raw->err) {
    return absl::UnavailableError(absl::StrCat("redis connect ", options.host, ":", options.port,
                                               ": ", raw->errstr));
  }
  timeval command_timeout = absl::ToTimeval(options.command_timeout);
  if (redisSetTimeout(raw, command_timeout) != REDIS_OK) {
    return absl::UnavailableError("redis: cannot set timeout");
  }
  if (!options.password.empty()) {
    std::vector<absl::string_view> auth = {"AUTH"};
    if (!options.user.empty()) auth.push_back(options.user);
    auth.push_back(options.password);
    absl::StatusOr<ReplyPtr> reply = conn->Command(auth);
    if (!reply.ok()) return reply.status();
    if (absl::Status s = ReplyStatus(reply->get()); !s.ok()) {
      return absl::PermissionDeniedError(absl::StrCat("redis AUTH: ", s.message()));
    }
  }
  return conn;
}

absl::Status RedisConnection::Append(const std::vector<absl::string_view>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (absl::string_view a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  if (redisAppendCommandArgv(context_.get(), static_cast<int>(args.size()), args.data(),
                             lengths.data()) != REDIS_OK) {
    broken_ = true;
    return absl::UnavailableError(absl::StrCat("redis: ", context_->errstr));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplyPtr> RedisConnection::Read() {
  void* raw = nullptr;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
    broken_ = true;
    return absl::UnavailableError(absl::StrCat("redis: ", context_->errstr));
  }
  return ReplyPtr(static_cast<redisReply*>(raw));
}

absl::StatusOr<ReplyPtr> RedisConnection::Command(const std::vector<absl::string_view>& argv) {
  if (broken_) return absl::UnavailableError("redis: connection broken");
  if (absl::Status s = Append(argv); !s.ok()) return s;
  return Read();
}

absl::StatusOr<std::vector<ReplyPtr>> RedisConnection::Pipeline(
    const std::vector<std::vector<absl::string_view>>& commands) {
  if (broken_) return absl::UnavailableError("redis: connection broken");
  for (const auto& argv : commands) {
    if (absl::Status s = Append(argv); !s.ok()) return s;
  }
  std::vector<ReplyPtr> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    absl::StatusOr<ReplyPtr> reply = Read();
    if (!reply.ok()) return reply.status();
    replies.push_back(*std::move(reply));
  }
  return replies;
}

absl::Status ReplyStatus(const redisReply* reply) {
  if (reply == nullptr) return absl::InternalError("redis: no reply");
  if (reply->type == REDIS_REPLY_ERROR) {
    absl::string_view text(reply->str, reply->len);
    // Transient server states: the caller may retry, like a lost connection.
    for (absl::string_view transient : {"LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "BUSY"}) {
      if (absl::StartsWith(text, transient)) {
        return absl::UnavailableError(absl::StrCat("redis: ", text));
      }
    }
    return absl::InternalError(absl::StrCat("redis: ", text));
  }
  return absl::OkStatus();
}

absl::StatusOr<RedisConnection*> ReconnectingConnection::Get() {
  if (connection_ != nullptr && !connection_->broken()) return connection_.get();
  connection_.reset();
  absl::Time now = absl::Now();
  if (now < next_attempt_) return absl::UnavailableError("redis unreachable (backing off)");
  absl::StatusOr<std::unique_ptr<RedisConnection>> fresh = RedisConnection::Connect(options_);
  if (!fresh.ok()) {
    next_attempt_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, absl::Seconds(2));
    return fresh.status();
  }
  backoff_ = absl::Milliseconds(50);
  connection_ = *std::move(fresh);
  return connection_.get();
}

}  // namespace uhc
