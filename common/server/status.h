#pragma once

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace uhc {

// The one mapping from an internal absl::Status to the RPC edge. Each absl code maps to the gRPC
// code of the same name (GrpcCode; a code neither knows is UNKNOWN); the message passes through
// (messages never hold personal data and echo input at most 64 bytes long); an InvalidFields status
// (domain/errors.h) gets its google.rpc.BadRequest as the grpc-status-details-bin trailer. Every
// error carries google.rpc.Status details (docs/API.md "Errors"): an ErrorInfo with the status's
// reason (domain/errors.h) or its code's default, in domain "uhc.v1"; the BadRequest of an
// InvalidFields status; the ResourceInfo of a NotFound / AlreadyExists; a RetryInfo where retrying
// helps (UNAVAILABLE: 1 s; RESOURCE_EXHAUSTED, ABORTED: 200 ms).
grpc::Status ToGrpcStatus(const absl::Status& status);
grpc::StatusCode GrpcCode(absl::StatusCode code);

// The domain of every ErrorInfo.
inline constexpr char kErrorDomain[] = "uhc.v1";

// The reason of a status that was given none: FIELD_INVALID (INVALID_ARGUMENT with field
// violations), REQUEST_INVALID (without), STORE_UNAVAILABLE (UNAVAILABLE), CREDENTIALS_INVALID,
// ROLE_DENIED, else the code's name ("INTERNAL", "DEADLINE_EXCEEDED", ...).
std::string DefaultReason(absl::StatusCode code, bool has_field_violations);

// The same words for the same condition, in both services.
absl::Status Overloaded();             // RESOURCE_EXHAUSTED: the Redis work queue is full
absl::Status CallerOverloaded();       // RESOURCE_EXHAUSTED: this caller's share of it is full
absl::Status DeadlinePassedInQueue();  // DEADLINE_EXCEEDED before any work was done
absl::Status ShuttingDown();           // UNAVAILABLE: reconnect (to another pod)

}  // namespace uhc
