#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "uhc/v1/classifier.pb.h"

namespace uhc {

// ListRegionTiers page tokens: web-safe base64 of "<filter fingerprint>#<last region code>", so
// that a token only continues the listing it came from.

// The filter a page token is bound to: policy, province, level and tier.
std::string ListingFingerprint(const v1::ListRegionTiersRequest& request,
                               const std::string& policy_id);
std::string EncodePageToken(const std::string& fingerprint, const std::string& last_code);
// The last region code of the previous page, or nullopt when `token` is not a token of the
// listing with `fingerprint` (or is longer than any token can be).
std::optional<std::string> DecodePageToken(absl::string_view token, const std::string& fingerprint);

}  // namespace uhc
