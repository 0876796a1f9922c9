#include "common/server/unary.h"

#include <chrono>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
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
  absl::Status queued = SubmitFor(CallerKey(*context),
                                  [context, reactor, work = std::move(work)](RedisClient& redis) {
                                    if (context->deadline() < std::chrono::system_clock::now()) {
                                      reactor->Finish(ToGrpcStatus(DeadlinePassedInQueue()));
                                      return;
                                    }
                                    reactor->Finish(ToGrpcStatus(work(redis)));
                                  });
  if (!queued.ok()) reactor->Finish(ToGrpcStatus(queued));
  return reactor;
}

bool UnaryCalls::Submit(RedisExecutor::Task task) const {
  if (executor_->Submit(std::move(task))) return true;
  if (overloaded_ != nullptr) overloaded_->Increment();
  return false;
}

absl::Status UnaryCalls::SubmitFor(const std::string& caller, RedisExecutor::Task task) const {
  RedisExecutor::Admission admission = executor_->SubmitFor(caller, std::move(task));
  if (admission == RedisExecutor::Admission::kQueued) return absl::OkStatus();
  if (overloaded_ != nullptr) overloaded_->Increment();
  if (admission == RedisExecutor::Admission::kStopped) return ShuttingDown();
  return admission == RedisExecutor::Admission::kCallerQueueFull ? CallerOverloaded()
                                                                 : Overloaded();
}

std::string UnaryCalls::CallerKey(const grpc::ServerContextBase& context) const {
  if (auth_ != nullptr) {
    const auto& metadata = context.client_metadata();
    auto it = metadata.find("authorization");
    if (it != metadata.end()) {
      // A hash, not the token: the key outlives the call in the executor's table. A collision
      // only makes two tokens share one share. With the connection: clients that share a token
      // (every dashboard with the read token) still get a share each.
      return absl::StrCat(
          "token:",
          absl::Hash<absl::string_view>()(absl::string_view(it->second.data(), it->second.size())),
          "|", context.peer());
    }
  }
  return context.peer();
}

}  // namespace uhc
