#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/redis/client.h"

namespace uhc::testing {

// A RedisClient for unit tests of code above the Redis layer: it answers every command with
// `reply` (an integer reply of 1 by default) and records what it was sent. Not thread-safe, like
// the real ones (one per executor worker).
class FakeRedisClient final : public RedisClient {
 public:
  FakeRedisClient() : RedisClient({}) {}

  std::vector<std::vector<std::string>> sent;
  std::function<absl::Status()> fail;  // when set and not OK, every pipeline fails with it

  absl::Status ForEachPrimary(const std::function<absl::Status(RedisConnection&)>&) override {
    return absl::OkStatus();
  }
  bool cluster() const override { return false; }

 protected:
  absl::StatusOr<std::vector<ReplyPtr>> PipelineOnce(const RedisCommands& commands,
                                                     int /*wait_replicas*/) override {
    if (fail) {
      if (absl::Status s = fail(); !s.ok()) return s;
    }
    std::vector<ReplyPtr> replies;
    for (const RedisArgv& argv : commands) {
      sent.emplace_back(argv.begin(), argv.end());
      auto* reply = static_cast<redisReply*>(calloc(1, sizeof(redisReply)));
      reply->type = REDIS_REPLY_INTEGER;
      reply->integer = 1;
      replies.emplace_back(reply);
    }
    return replies;
  }
};

}  // namespace uhc::testing
