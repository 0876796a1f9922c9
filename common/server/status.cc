#include "common/server/status.h"

#include "common/domain/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace uhc {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::vector<FieldViolation> violations = FieldViolations(status);
  if (violations.empty()) return grpc::Status(code, std::string(status.message()));
  google::rpc::BadRequest bad_request;
  for (const FieldViolation& v : violations) {
    auto* out = bad_request.add_field_violations();
    out->set_field(v.field);
    out->set_description(v.description);
  }
  google::rpc::Status details;
  details.set_code(static_cast<int>(code));
  details.set_message(std::string(status.message()));
  details.add_details()->PackFrom(bad_request);
  return grpc::Status(code, std::string(status.message()), details.SerializeAsString());
}

absl::Status Overloaded() {
  return absl::ResourceExhaustedError(
      "server overloaded: Redis work queue full, retry with backoff");
}

absl::Status CallerOverloaded() {
  return absl::ResourceExhaustedError(
      "too many of this caller's calls are waiting for Redis (other callers are served in turn); "
      "wait for answers before sending more, retry with backoff");
}

absl::Status DeadlinePassedInQueue() {
  return absl::DeadlineExceededError("deadline passed while queued; nothing was done");
}

absl::Status ShuttingDown() {
  return absl::UnavailableError("server shutting down: reconnect and resend what was not acked");
}

}  // namespace uhc
