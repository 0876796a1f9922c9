#include "common/server/status.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/domain/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace uhc {

std::string DefaultReason(absl::StatusCode code, bool has_field_violations) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return has_field_violations ? reason::kFieldInvalid : "REQUEST_INVALID";
    case absl::StatusCode::kUnavailable:
      return reason::kStoreUnavailable;
    case absl::StatusCode::kUnauthenticated:
      return reason::kCredentialsInvalid;
    case absl::StatusCode::kPermissionDenied:
      return reason::kRoleDenied;
    default:
      return absl::StatusCodeToString(code);  // "INTERNAL", "DEADLINE_EXCEEDED", ...
  }
}

std::optional<absl::Duration> RetryDelay(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
      return absl::Seconds(1);
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
      return absl::Milliseconds(200);
    default:
      return std::nullopt;
  }
}

grpc::StatusCode GrpcCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return grpc::StatusCode::OK;
    case absl::StatusCode::kCancelled:
      return grpc::StatusCode::CANCELLED;
    case absl::StatusCode::kUnknown:
      return grpc::StatusCode::UNKNOWN;
    case absl::StatusCode::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case absl::StatusCode::kDeadlineExceeded:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case absl::StatusCode::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case absl::StatusCode::kAlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case absl::StatusCode::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case absl::StatusCode::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case absl::StatusCode::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case absl::StatusCode::kAborted:
      return grpc::StatusCode::ABORTED;
    case absl::StatusCode::kOutOfRange:
      return grpc::StatusCode::OUT_OF_RANGE;
    case absl::StatusCode::kUnimplemented:
      return grpc::StatusCode::UNIMPLEMENTED;
    case absl::StatusCode::kInternal:
      return grpc::StatusCode::INTERNAL;
    case absl::StatusCode::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case absl::StatusCode::kDataLoss:
      return grpc::StatusCode::DATA_LOSS;
    case absl::StatusCode::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    default:
      return grpc::StatusCode::UNKNOWN;
  }
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const grpc::StatusCode code = GrpcCode(status.code());
  const std::vector<FieldViolation> violations = FieldViolations(status);
  google::rpc::Status details;
  details.set_code(static_cast<int>(code));
  details.set_message(std::string(status.message()));

  google::rpc::ErrorInfo info;
  std::string reason = ReasonOf(status);
  info.set_reason(reason.empty() ? DefaultReason(status.code(), !violations.empty()) : reason);
  info.set_domain(kErrorDomain);
  details.add_details()->PackFrom(info);
  if (!violations.empty()) {
    google::rpc::BadRequest bad_request;
    for (const FieldViolation& v : violations) {
      auto* out = bad_request.add_field_violations();
      out->set_field(v.field);
      out->set_description(v.description);
    }
    details.add_details()->PackFrom(bad_request);
  }
  if (std::optional<ResourceRef> resource = ResourceOf(status)) {
    google::rpc::ResourceInfo out;
    out.set_resource_type(resource->type);
    out.set_resource_name(resource->name);
    details.add_details()->PackFrom(out);
  }
  if (std::optional<absl::Duration> delay = RetryDelay(status.code())) {
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(absl::ToInt64Seconds(*delay));
    retry.mutable_retry_delay()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(*delay % absl::Seconds(1))));
    details.add_details()->PackFrom(retry);
  }
  return grpc::Status(code, std::string(status.message()), details.SerializeAsString());
}

absl::Status Overloaded() {
  return WithReason(
      absl::ResourceExhaustedError("server overloaded: Redis work queue full, retry with backoff"),
      reason::kOverloaded);
}

absl::Status CallerOverloaded() {
  return WithReason(
      absl::ResourceExhaustedError("too many of this caller's calls are waiting for Redis (other "
                                   "callers are served in turn); "
                                   "wait for answers before sending more, retry with backoff"),
      reason::kCallerOverloaded);
}

absl::Status DeadlinePassedInQueue() {
  return absl::DeadlineExceededError("deadline passed while queued; nothing was done");
}

absl::Status ShuttingDown() {
  return WithReason(
      absl::UnavailableError("server shutting down: reconnect and resend what was not acked"),
      reason::kShuttingDown);
}

}  // namespace uhc
