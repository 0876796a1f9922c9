#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace uhc {

// Where and how to reach Redis. Only loopback is used by tests and the local run.
struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // ACL user; empty for the default user
  std::string password;  // empty for no AUTH
  absl::Duration connect_timeout = absl::Milliseconds(300);
  absl::Duration command_timeout = absl::Seconds(2);
};

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// One synchronous hiredis connection. Not thread-safe: one owner thread at a time.
// Error taxonomy: transport failures (I/O, timeout, closed) are Unavailable and leave the
// connection broken(); a malformed reply is Internal. Error *replies* are returned as replies:
// check them with ReplyStatus.
class RedisConnection {
 public:
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Connect(const RedisOptions& options);

  // One command as an argument array (binary-safe; never a format string).
  absl::StatusOr<ReplyPtr> Command(const std::vector<absl::string_view>& argv);
  // Sends every command, then reads every reply, in order: one round trip.
  absl::StatusOr<std::vector<ReplyPtr>> Pipeline(
      const std::vector<std::vector<absl::string_view>>& commands);

  bool broken() const { return broken_; }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  explicit RedisConnection(redisContext* context) : context_(context) {}
  absl::Status Append(const std::vector<absl::string_view>& argv);
  absl::StatusOr<ReplyPtr> Read();

  std::unique_ptr<redisContext, ContextDeleter> context_;
  bool broken_ = false;
};

// OK unless the reply is null or an error reply: Unavailable for transient server states
// (LOADING, MASTERDOWN, TRYAGAIN, CLUSTERDOWN, BUSY), Internal otherwise, with Redis' message.
absl::Status ReplyStatus(const redisReply* reply);

// A connection that reconnects on demand. While Redis is down it retries at most once per backoff
// period (doubling from 50 ms to 2 s) and otherwise fails fast with Unavailable, so callers never
// wait on a dead server longer than one connect timeout. Not thread-safe (one owner).
class ReconnectingConnection {
 public:
  explicit ReconnectingConnection(RedisOptions options) : options_(std::move(options)) {}

  // A usable connection, or Unavailable.
  absl::StatusOr<RedisConnection*> Get();

 private:
  RedisOptions options_;
  std::unique_ptr<RedisConnection> connection_;
  absl::Time next_attempt_ = absl::InfinitePast();
  absl::Duration backoff_ = absl::Milliseconds(50);
};

}  // namespace uhc
