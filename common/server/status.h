#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace uhc {

// The one mapping from an internal absl::Status to the RPC edge. Codes are the same numbers in
// absl and gRPC and pass through; the message passes through (messages never hold personal data
// and echo input at most 64 bytes long); an InvalidFields status (domain/errors.h) gets its
// google.rpc.BadRequest as the grpc-status-details-bin trailer.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The same words for the same condition, in both services.
absl::Status Overloaded();             // RESOURCE_EXHAUSTED: the Redis work queue is full
absl::Status CallerOverloaded();       // RESOURCE_EXHAUSTED: this caller's share of it is full
absl::Status DeadlinePassedInQueue();  // DEADLINE_EXCEEDED before any work was done
absl::Status ShuttingDown();           // UNAVAILABLE: reconnect (to another pod)

}  // namespace uhc
