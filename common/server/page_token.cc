#include "common/server/page_token.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/domain/errors.h"

namespace uhc {
namespace {

constexpr char kVersion = 1;
constexpr size_t kCheckBytes = 12;

std::string Check(absl::string_view listing, absl::string_view position) {
  const std::string input = absl::StrCat("uhc.v1 page token", listing.size(), ":", listing,
                                         position.size(), ":", position);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), kCheckBytes);
}

absl::Status BadToken() {
  return WithReason(InvalidField("page_token",
                                 "is not a next_page_token of this listing (edited, or sent with "
                                 "other request fields than the page it came from)"),
                    reason::kPageTokenInvalid);
}

}  // namespace

std::string Listing(std::initializer_list<absl::string_view> parts) {
  std::string out;
  for (absl::string_view part : parts) absl::StrAppend(&out, part.size(), ":", part);
  return out;
}

absl::StatusOr<PageRequest> ReadPage(int32_t page_size, absl::string_view page_token,
                                     absl::string_view listing) {
  if (page_size < 0) {
    return InvalidField("page_size", absl::StrCat("must be 0 (the default, ", kDefaultPageSize,
                                                  ") to ", kMaxPageSize, "; got ", page_size));
  }
  PageRequest page;
  page.size = page_size == 0 ? kDefaultPageSize : std::min<int>(page_size, kMaxPageSize);
  if (page_token.empty()) return page;
  std::string raw;
  if (page_token.size() > kMaxPageTokenBytes || !absl::WebSafeBase64Unescape(page_token, &raw) ||
      raw.size() < 1 + kCheckBytes || raw[0] != kVersion) {
    return BadToken();
  }
  absl::string_view body(raw);
  absl::string_view position = body.substr(1, body.size() - 1 - kCheckBytes);
  if (body.substr(body.size() - kCheckBytes) != Check(listing, position) || position.empty()) {
    return BadToken();
  }
  page.after = std::string(position);
  return page;
}

std::string NextPageToken(absl::string_view listing, absl::string_view position) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(absl::string_view(&kVersion, 1), position, Check(listing, position)));
}

}  // namespace uhc
