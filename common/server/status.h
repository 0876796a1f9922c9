#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace uhc {

// The one mapping from internal status to the RPC edge. absl and gRPC share code numbers;
// messages pass through (they never contain personal data).
grpc::Status ToGrpcStatus(const absl::Status& status);

// INVALID_ARGUMENT carrying a google.rpc.BadRequest with one violation per (field, description),
// in the grpc-status-details-bin trailer.
grpc::Status InvalidArgument(const std::vector<std::pair<std::string, std::string>>& violations);

}  // namespace uhc
