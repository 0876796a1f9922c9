#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace uhc {

// Paging of every List RPC (AIP-158). A page token is opaque to clients and bound to the listing
// it came from: web-safe base64 (no padding) of
//   version byte (1) | the position the page ended at | check (12 bytes)
// where check = SHA-256("uhc.v1 page token", listing, position) cut to 12 bytes, and `listing`
// names the method and every request field that selects what is listed (never page_size,
// page_token or view). An edited token, or one sent with other request fields than the page it
// came from, fails the check: INVALID_ARGUMENT with reason PAGE_TOKEN_INVALID, never a different
// page. Tokens are not secrets (every page is readable by anyone who may list): the check is
// integrity, not authentication, and needs no key shared between replicas.

inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;
// No token of ours is longer: a position is at most a few hundred bytes.
inline constexpr size_t kMaxPageTokenBytes = 1024;

// One page asked for.
struct PageRequest {
  int size = kDefaultPageSize;  // page_size, 0 meaning the default, capped at the maximum
  std::string after;            // the previous page's last position; empty for the first page
};

// The listing key of a method and its selecting fields, e.g. Listing({"ListCutoffs"}).
std::string Listing(std::initializer_list<absl::string_view> parts);

// The page a request asks for; INVALID_ARGUMENT naming page_size (negative) or page_token.
absl::StatusOr<PageRequest> ReadPage(int32_t page_size, absl::string_view page_token,
                                     absl::string_view listing);

// The token of the page after the one that ended at `position` (not empty).
std::string NextPageToken(absl::string_view listing, absl::string_view position);

}  // namespace uhc
