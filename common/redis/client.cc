#include "common/redis/client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/domain/errors.h"
#include "common/observability/log.h"
#include "common/redis/cluster.h"

namespace uhc {
absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const RedisOptions& options) {
  timeval connect_timeout = absl::ToTimeval(options.connect_timeout);
  redisContext* raw = redisConnectWithTimeout(options.host.c_str(), options.port, connect_timeout);
  if (raw == nullptr) return absl::UnavailableError("redis: cannot allocate context");
  std::unique_ptr<RedisConnection> conn(new RedisConnection(raw, options.command_timeout));
  conn->address_ = absl::StrCat(options.host, ":", options.port);
  if (raw->err) {
    return absl::UnavailableError(
        absl::StrCat("redis connect ", options.host, ":", options.port, ": ", raw->errstr));
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
      // The service's own credentials, not the caller's: UNAVAILABLE (STORE_UNAVAILABLE) to
      // callers, never a PERMISSION_DENIED that would blame their token.
      return absl::UnavailableError(absl::StrCat("redis AUTH: ", s.message()));
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
    return TransportError();
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::TransportError() {
  broken_ = true;
  // hiredis reports a socket timeout as the I/O error EAGAIN ("Resource temporarily
  // unavailable"), which says nothing to an operator.
  if (context_->err == REDIS_ERR_IO &&
      (absl::string_view(context_->errstr) == std::strerror(EAGAIN) ||
       absl::string_view(context_->errstr) == std::strerror(EWOULDBLOCK))) {
    return absl::UnavailableError(
        absl::StrCat("redis: no reply within the Redis command timeout of ",
                     absl::FormatDuration(command_timeout_),
                     " (Redis is stalled or overloaded); the connection is dropped, retry"));
  }
  return absl::UnavailableError(absl::StrCat("redis: ", context_->errstr));
}

bool RedisConnection::PeerClosed() const {
  char byte;
  return ::recv(context_->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

absl::StatusOr<ReplyPtr> RedisConnection::Read() {
  void* raw = nullptr;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
    return TransportError();
  }
  return ReplyPtr(static_cast<redisReply*>(raw));
}

absl::StatusOr<ReplyPtr> RedisConnection::Command(const std::vector<absl::string_view>& argv) {
  if (broken_) return absl::UnavailableError("redis: connection broken");
  if (absl::Status s = Append(argv); !s.ok()) return s;
  return Read();
}

absl::Status RedisConnection::Send(const RedisCommands& commands) {
  if (broken_) return absl::UnavailableError("redis: connection broken");
  for (const RedisArgv& argv : commands) {
    if (absl::Status s = Append(argv); !s.ok()) return s;
  }
  int done = 0;
  while (!done) {
    if (redisBufferWrite(context_.get(), &done) != REDIS_OK) return TransportError();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ReplyPtr>> RedisConnection::Receive(size_t count) {
  std::vector<ReplyPtr> replies;
  replies.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    absl::StatusOr<ReplyPtr> reply = Read();
    if (!reply.ok()) return reply.status();
    replies.push_back(*std::move(reply));
  }
  return replies;
}

absl::StatusOr<std::vector<ReplyPtr>> RedisConnection::Pipeline(const RedisCommands& commands) {
  if (absl::Status s = Send(commands); !s.ok()) return s;
  return Receive(commands.size());
}

absl::Status ReplyStatus(const redisReply* reply) {
  if (reply == nullptr) return absl::InternalError("redis: no reply");
  if (reply->type != REDIS_REPLY_ERROR) return absl::OkStatus();
  absl::string_view text(reply->str, reply->len);
  if (absl::StartsWith(text, "OOM")) {
    return WithReason(absl::ResourceExhaustedError(absl::StrCat(
                          "redis is full (maxmemory reached): retry later with backoff; "
                          "operators: raise maxmemory or add shards (",
                          text, ")")),
                      reason::kStoreFull);
  }
  struct Transient {
    absl::string_view prefix;
    absl::string_view meaning;
  };
  static constexpr Transient kTransient[] = {
      {"READONLY", "the node is a read-only replica (a failover is under way)"},
      {"NOREPLICAS", "not enough replicas confirmed the write"},
      {"MASTERDOWN", "the replica's primary is down"},
      {"LOADING", "redis is loading its data set"},
      {"BUSY", "redis is busy running a script"},
      {"TRYAGAIN", "keys are being migrated between cluster nodes"},
      {"CLUSTERDOWN", "the cluster is down"},
      {"MISCONF", "redis cannot persist to disk and refuses writes"},
  };
  for (const Transient& t : kTransient) {
    if (absl::StartsWith(text, t.prefix)) {
      return absl::UnavailableError(
          absl::StrCat("redis: ", t.meaning, "; retry with backoff (", text, ")"));
    }
  }
  if (IsFunctionNotFound(reply)) {
    return absl::UnavailableError(absl::StrCat(
        "redis: function library missing on a primary and could not be loaded; retry (", text,
        ")"));
  }
  return absl::InternalError(absl::StrCat("redis: ", text));
}

bool IsFunctionNotFound(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
         absl::StartsWith(absl::string_view(reply->str, reply->len), "ERR Function not found");
}

absl::Status CheckWaitReply(const redisReply* reply, int wanted) {
  if (absl::Status s = ReplyStatus(reply); !s.ok()) return s;
  if (reply->type != REDIS_REPLY_INTEGER) return absl::InternalError("redis: WAIT: not an integer");
  if (reply->integer < wanted) {
    return absl::UnavailableError(absl::StrCat("redis: writes reached ", reply->integer, " of ",
                                               wanted, " replicas in time"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ReplyPtr>> RedisClient::Pipeline(const RedisCommands& commands,
                                                            int wait_replicas) {
  absl::StatusOr<std::vector<ReplyPtr>> replies = PipelineOnce(commands, wait_replicas);
  if (!replies.ok() || function_libraries_.empty()) return replies;
  std::vector<size_t> missing;
  for (size_t i = 0; i < replies->size(); ++i) {
    if (IsFunctionNotFound((*replies)[i].get())) missing.push_back(i);
  }
  if (missing.empty()) return replies;
  if (absl::Status loaded = LoadFunctionLibraries(); !loaded.ok()) return loaded;
  LogInfo("redis function libraries loaded after 'Function not found'",
          {{"commands", static_cast<int64_t>(missing.size())}});
  RedisCommands again;
  again.reserve(missing.size());
  for (size_t i : missing) again.push_back(commands[i]);
  absl::StatusOr<std::vector<ReplyPtr>> retried = PipelineOnce(again, wait_replicas);
  if (!retried.ok()) return retried.status();
  for (size_t k = 0; k < missing.size(); ++k) (*replies)[missing[k]] = std::move((*retried)[k]);
  return replies;
}

absl::Status RedisClient::LoadFunctionLibraries() {
  return ForEachPrimary([this](RedisConnection& connection) {
    for (const char* library : function_libraries_) {
      absl::StatusOr<ReplyPtr> reply = connection.Command({"FUNCTION", "LOAD", "REPLACE", library});
      absl::Status status = reply.ok() ? ReplyStatus(reply->get()) : reply.status();
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<ReplyPtr> RedisClient::Command(const RedisArgv& argv) {
  absl::StatusOr<std::vector<ReplyPtr>> replies = Pipeline({argv});
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

std::unique_ptr<RedisClient> MakeRedisClient(const RedisOptions& options) {
  if (options.cluster) return std::make_unique<ClusterClient>(options);
  return std::make_unique<ReconnectingConnection>(options);
}

absl::StatusOr<std::vector<ReplyPtr>> ReconnectingConnection::PipelineOnce(
    const RedisCommands& commands, int wait_replicas) {
  absl::StatusOr<RedisConnection*> connection = Get();
  if (!connection.ok()) return connection.status();
  if (wait_replicas <= 0) return (*connection)->Pipeline(commands);
  RedisCommands with_wait = commands;
  const std::string wanted = std::to_string(wait_replicas);
  const std::string timeout_ms =
      std::to_string(absl::ToInt64Milliseconds(options_.command_timeout) / 2);
  with_wait.push_back({"WAIT", wanted, timeout_ms});
  absl::StatusOr<std::vector<ReplyPtr>> replies = (*connection)->Pipeline(with_wait);
  if (!replies.ok()) return replies.status();
  if (absl::Status s = CheckWaitReply(replies->back().get(), wait_replicas); !s.ok()) return s;
  replies->pop_back();
  return replies;
}

absl::Status ReconnectingConnection::ForEachPrimary(
    const std::function<absl::Status(RedisConnection&)>& fn) {
  absl::StatusOr<RedisConnection*> connection = Get();
  if (!connection.ok()) return connection.status();
  return fn(**connection);
}

absl::StatusOr<RedisConnection*> ReconnectingConnection::Get() {
  // A connection Redis closed while it sat idle (a restart) is replaced before it fails a call.
  if (connection_ != nullptr && !connection_->broken() && !connection_->PeerClosed()) {
    return connection_.get();
  }
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
