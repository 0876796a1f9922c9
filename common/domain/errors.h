#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

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

// The machine-readable reason of an error: google.rpc.ErrorInfo.reason in domain "uhc.v1",
// stable UPPER_SNAKE, one per kind of mistake (docs/API.md "Errors" lists each with its code and
// details; tests/api/error_model_test.py holds every RPC to it). A status without one gets its
// code's default (server/status.h, DefaultReason).
namespace reason {
inline constexpr char kFieldInvalid[] = "FIELD_INVALID";
inline constexpr char kRegionNotFound[] = "REGION_NOT_FOUND";
inline constexpr char kPolicyNotFound[] = "POLICY_NOT_FOUND";
inline constexpr char kCutoffNotFound[] = "CUTOFF_NOT_FOUND";
inline constexpr char kParticipantNotFound[] = "PARTICIPANT_NOT_FOUND";
inline constexpr char kCutoffExists[] = "CUTOFF_EXISTS";
inline constexpr char kRequestIdReused[] = "REQUEST_ID_REUSED";
inline constexpr char kPageTokenInvalid[] = "PAGE_TOKEN_INVALID";
inline constexpr char kResumeTokenExpired[] = "RESUME_TOKEN_EXPIRED";
inline constexpr char kCapacityExceeded[] = "CAPACITY_EXCEEDED";
inline constexpr char kStoreMisconfigured[] = "STORE_MISCONFIGURED";
inline constexpr char kCredentialsMissing[] = "CREDENTIALS_MISSING";
inline constexpr char kCredentialsInvalid[] = "CREDENTIALS_INVALID";
inline constexpr char kRoleDenied[] = "ROLE_DENIED";
inline constexpr char kOverloaded[] = "OVERLOADED";
inline constexpr char kCallerOverloaded[] = "CALLER_OVERLOADED";
inline constexpr char kShuttingDown[] = "SHUTTING_DOWN";
inline constexpr char kStoreUnavailable[] = "STORE_UNAVAILABLE";
inline constexpr char kStoreFull[] = "STORE_FULL";
inline constexpr char kDateOutOfRange[] = "DATE_OUT_OF_RANGE";
inline constexpr char kWatcherBehind[] = "WATCHER_BEHIND";
inline constexpr char kStreamLimit[] = "STREAM_LIMIT";
}  // namespace reason

// `status` with its reason set (a no-op on OK).
absl::Status WithReason(absl::Status status, absl::string_view reason);
// The reason set with WithReason, or empty.
std::string ReasonOf(const absl::Status& status);

// The resource a NOT_FOUND or ALREADY_EXISTS is about (google.rpc.ResourceInfo): its type, e.g.
// "uhc.v1.Region", and name, e.g. "12.19" (at most 64 bytes of the request, never a NIK).
struct ResourceRef {
  std::string type;
  std::string name;
};
absl::Status NotFound(absl::string_view reason, ResourceRef resource, std::string message);
absl::Status AlreadyExists(absl::string_view reason, ResourceRef resource, std::string message);
// The resource such a status is about, if any.
std::optional<ResourceRef> ResourceOf(const absl::Status& status);

}  // namespace uhc
