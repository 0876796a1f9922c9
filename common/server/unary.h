#pragma once

#include <functional>

#include "absl/status/status.h"
#include "common/observability/metrics.h"
#include "common/redis/executor.h"
#include "common/server/auth.h"
#include "grpcpp/grpcpp.h"

namespace uhc {

// The preamble every unary RPC shares, in one place: the caller's role is checked, then the
// call is answered from memory (Answer) or its Redis work runs on the executor (OnExecutor),
// which first checks that the call's deadline did not pass while it waited in the queue; a full
// queue answers Overloaded(). Work is queued for the call's caller (CallerKey), so the executor's
// per-caller limits and turns (common/redis/executor.h) keep one caller's burst from delaying
// the others; a caller over its own limit answers CallerOverloaded(). Either way the reactor
// finishes exactly once, through ToGrpcStatus. Thread-safe; pointers are not owned and must outlive
// the calls.
class UnaryCalls {
 public:
  // `auth` null: tokens are off (local use). `overloaded` (may be null) counts refused calls.
  UnaryCalls(const TokenAuthorizer* auth, RedisExecutor* executor, Counter* overloaded)
      : auth_(auth), executor_(executor), overloaded_(overloaded) {}

  // OK when tokens are off or the call's token has `role`.
  absl::Status Authorize(const grpc::ServerContextBase& context, Role role) const {
    return auth_ == nullptr ? absl::OkStatus() : auth_->Check(context, role);
  }

  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, Role role,
                                   const std::function<absl::Status()>& answer) const;

  // `work` runs on an executor thread with that thread's Redis client.
  grpc::ServerUnaryReactor* OnExecutor(grpc::CallbackServerContext* context, Role role,
                                       std::function<absl::Status(RedisClient&)> work) const;

  // Queues `task` on the executor; false (and counted) when the queue is full.
  bool Submit(RedisExecutor::Task task) const;
  // Queues `task` for `caller`: OK, or RESOURCE_EXHAUSTED (counted) saying whose queue is full.
  absl::Status SubmitFor(const std::string& caller, RedisExecutor::Task task) const;

  // Who is calling, for the executor's fair shares: the bearer token when tokens are on (all of
  // one client's connections share its share), else the connection (the gRPC peer). Behind a
  // proxy that pools connections, callers without tokens share the proxy's connections' shares.
  std::string CallerKey(const grpc::ServerContextBase& context) const;

 private:
  const TokenAuthorizer* auth_;
  RedisExecutor* executor_;
  Counter* overloaded_;
};

}  // namespace uhc
