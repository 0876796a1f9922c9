#include "common/domain/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"

namespace uhc {

absl::Status InvalidFields(const std::vector<FieldViolation>& violations) {
  google::rpc::BadRequest bad_request;
  std::string message;
  for (const FieldViolation& v : violations) {
    auto* out = bad_request.add_field_violations();
    out->set_field(v.field);
    out->set_description(v.description);
    absl::StrAppend(&message, message.empty() ? "" : "; ", v.field, ": ", v.description);
  }
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kBadRequestTypeUrl, absl::Cord(bad_request.SerializeAsString()));
  return status;
}

absl::Status InvalidField(std::string field, std::string description) {
  return InvalidFields({{std::move(field), std::move(description)}});
}

std::vector<FieldViolation> FieldViolations(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kBadRequestTypeUrl);
  google::rpc::BadRequest bad_request;
  if (!payload || !bad_request.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : bad_request.field_violations()) out.push_back({v.field(), v.description()});
  return out;
}

namespace {
constexpr char kReasonUrl[] = "uhc.v1/reason";
constexpr char kResourceUrl[] = "uhc.v1/resource";

absl::Status About(absl::Status status, absl::string_view reason, ResourceRef resource) {
  status.SetPayload(kResourceUrl, absl::Cord(absl::StrCat(resource.type, "\n", resource.name)));
  return WithReason(std::move(status), reason);
}
}  // namespace

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  if (!status.ok()) status.SetPayload(kReasonUrl, absl::Cord(reason));
  return status;
}

std::string ReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonUrl);
  return payload ? std::string(*payload) : std::string();
}

absl::Status NotFound(absl::string_view reason, ResourceRef resource, std::string message) {
  return About(absl::NotFoundError(message), reason, std::move(resource));
}

absl::Status AlreadyExists(absl::string_view reason, ResourceRef resource, std::string message) {
  return About(absl::AlreadyExistsError(message), reason, std::move(resource));
}

std::optional<ResourceRef> ResourceOf(const absl::Status& status) {
  auto payload = status.GetPayload(kResourceUrl);
  if (!payload) return std::nullopt;
  std::string text(*payload);
  size_t cut = text.find('\n');
  if (cut == std::string::npos) return std::nullopt;
  return ResourceRef{text.substr(0, cut), text.substr(cut + 1)};
}

}  // namespace uhc
