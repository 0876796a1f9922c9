#include "common/server/unary.h"

#include <chrono>

#include "common/server/status.h"

namespace uhc {

grpc::ServerUnaryReactor* UnaryCalls::Answer(grpc::CallbackServerContext* context, Role role,
                                             const std::function<absl::Status()>& answer) const {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = Authorize(*context, role);
  if (status.ok()) status = answer();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* UnaryCalls::OnExecutor(
    grpc::CallbackServerContext* context, Role role,
    std::function<absl::Status(RedisClient&)> work) const {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status denied = Authorize(*context, role); !denied.ok()) {
    reactor->Finish(ToGrpcStatus(denied));
    return reactor;
  }
  bool queued = Submit([context, reactor, work = std::move(work)](RedisClient& redis) {
    if (context->deadline() < std::chrono::system_clock::now()) {
      reactor->Finish(ToGrpcStatus(DeadlinePassedInQueue()));
      return;
    }
    reactor->Finish(ToGrpcStatus(work(redis)));
  });
  if (!queued) reactor->Finish(ToGrpcStatus(Overloaded()));
  return reactor;
}

bool UnaryCalls::Submit(RedisExecutor::Task task) const {
  if (executor_->Submit(std::move(task))) return true;
  if (overloaded_ != nullptr) overloaded_->Increment();
  return false;
}

}  // namespace uhc
