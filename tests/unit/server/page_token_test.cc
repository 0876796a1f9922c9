#include "common/server/page_token.h"

#include <random>

#include "common/domain/errors.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

TEST(PageTokenTest, ATokenContinuesOnlyItsOwnListing) {
  const std::string listing = Listing({"ListRegionTiers", "uhc-awards-2026", "12", "madya"});
  const std::string token = NextPageToken(listing, "12.19");
  absl::StatusOr<PageRequest> page = ReadPage(0, token, listing);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->after, "12.19");
  EXPECT_EQ(page->size, kDefaultPageSize);

  for (const std::string& other :
       {Listing({"ListRegionTiers", "uhc-awards-2026", "12", "utama"}),
        Listing({"ListRegionTiers", "uhc-awards-2026", "12m", "adya"}),  // same bytes, other split
        Listing({"ListTierChanges", "uhc-awards-2026", "12", "madya"})}) {
    absl::StatusOr<PageRequest> wrong = ReadPage(0, token, other);
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ReasonOf(wrong.status()), reason::kPageTokenInvalid);
    ASSERT_EQ(FieldViolations(wrong.status()).size(), 1u);
    EXPECT_EQ(FieldViolations(wrong.status())[0].field, "page_token");
  }
}

// Any edit of a token (one character replaced, cut, grown) is refused, never another page.
TEST(PageTokenTest, EveryEditIsRefused) {
  const std::string listing = Listing({"ListCutoffs"});
  const std::string token = NextPageToken(listing, "uhc-awards-2026");
  std::mt19937 rng(7);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int i = 0; i < 2000; ++i) {
    std::string edited = token;
    const size_t at = rng() % edited.size();
    switch (i % 3) {
      case 0:
        edited[at] = alphabet[rng() % alphabet.size()];
        if (edited == token) continue;
        break;
      case 1:
        edited.resize(at == 0 ? 1 : at);  // an empty token is the first page, not an edit
        break;
      case 2:
        edited.insert(at, 1, alphabet[rng() % alphabet.size()]);
        break;
    }
    absl::StatusOr<PageRequest> page = ReadPage(0, edited, listing);
    // Base64's last character carries spare bits: an edit there may decode to the same bytes.
    if (page.ok()) {
      EXPECT_EQ(page->after, "uhc-awards-2026") << edited;
    } else {
      EXPECT_EQ(ReasonOf(page.status()), reason::kPageTokenInvalid) << edited;
    }
  }
}

TEST(PageTokenTest, PageSizeHasADefaultAMaximumAndNoNegatives) {
  const std::string listing = Listing({"ListPolicies"});
  EXPECT_EQ(ReadPage(0, "", listing)->size, kDefaultPageSize);
  EXPECT_EQ(ReadPage(1, "", listing)->size, 1);
  EXPECT_EQ(ReadPage(kMaxPageSize, "", listing)->size, kMaxPageSize);
  EXPECT_EQ(ReadPage(kMaxPageSize + 1, "", listing)->size, kMaxPageSize);
  absl::StatusOr<PageRequest> negative = ReadPage(-1, "", listing);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(FieldViolations(negative.status())[0].field, "page_size");
  EXPECT_FALSE(ReadPage(0, std::string(kMaxPageTokenBytes + 1, 'A'), listing).ok());
  EXPECT_FALSE(ReadPage(0, "not base64!", listing).ok());
}

}  // namespace
}  // namespace uhc
