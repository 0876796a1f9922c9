#include "classifier-svc/page_token.h"

#include "gtest/gtest.h"

namespace uhc {
namespace {

TEST(PageTokenTest, ATokenContinuesOnlyItsOwnListing) {
  v1::ListRegionTiersRequest request;
  request.set_province_code("12");
  request.set_tier("madya");
  const std::string fingerprint = ListingFingerprint(request, "uhc-awards-2026");
  const std::string token = EncodePageToken(fingerprint, "12.19");
  EXPECT_EQ(DecodePageToken(token, fingerprint), std::optional<std::string>("12.19"));

  request.set_tier("utama");
  EXPECT_FALSE(DecodePageToken(token, ListingFingerprint(request, "uhc-awards-2026")));
  EXPECT_FALSE(DecodePageToken("not base64!", fingerprint));
  EXPECT_FALSE(DecodePageToken(std::string(1 << 20, 'A'), fingerprint)) << "too long to be one";
}

}  // namespace
}  // namespace uhc
