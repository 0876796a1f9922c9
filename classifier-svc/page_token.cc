#include "classifier-svc/page_token.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace uhc {
namespace {

// A fingerprint is a policy id, a province code, a level number and a tier id: well under this.
constexpr size_t kMaxPageTokenBytes = 512;

}  // namespace

std::string ListingFingerprint(const v1::ListRegionTiersRequest& request,
                               const std::string& policy_id) {
  return absl::StrCat(policy_id, "|", request.province_code(), "|", request.level(), "|",
                      request.tier(), "|", request.as_of_date(), "|", request.cutoff_id());
}

std::string EncodePageToken(const std::string& fingerprint, const std::string& last_code) {
  return absl::WebSafeBase64Escape(absl::StrCat(fingerprint, "#", last_code));
}

std::optional<std::string> DecodePageToken(absl::string_view token,
                                           const std::string& fingerprint) {
  if (token.size() > kMaxPageTokenBytes) return std::nullopt;
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(token, &decoded)) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(decoded, absl::MaxSplits('#', 1));
  if (parts.size() != 2 || parts[0] != fingerprint) return std::nullopt;
  return parts[1];
}

}  // namespace uhc
