#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace uhc {

// A bad field of a request, for INVALID_ARGUMENT.
struct FieldViolation {
  std::string field;        // "events[3].nik", "population"
  std::string description;  // "must be 16 digits, got 15"
};

// INVALID_ARGUMENT naming each field; the message lists them ("field: description; ...") and the
// violations ride along as a google.rpc.BadRequest payload, which the RPC edge
// (server/status.h, ToGrpcStatus) turns into the status details clients read.
absl::Status InvalidFields(const std::vector<FieldViolation>& violations);
absl::Status InvalidField(std::string field, std::string description);

// The violations an InvalidFields status carries (empty for any other status).
std::vector<FieldViolation> FieldViolations(const absl::Status& status);

// The type URL of the payload.
inline constexpr char kBadRequestTypeUrl[] = "type.googleapis.com/google.rpc.BadRequest";

}  // namespace uhc
