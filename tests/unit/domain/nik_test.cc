#include "common/domain/nik.h"

#include <string>

#include "gtest/gtest.h"

namespace uhc {
namespace {

// The reason ParseNik gives for refusing `nik`; fails the test if it accepted it or if the
// reason quotes the NIK (personal data).
std::string Reason(const std::string& nik) {
  absl::StatusOr<Nik> parsed = ParseNik(nik);
  EXPECT_FALSE(parsed.ok()) << "accepted " << nik;
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  std::string reason(parsed.status().message());
  if (nik.size() >= 6) {
    EXPECT_EQ(reason.find(nik), std::string::npos) << "the reason quotes the NIK: " << reason;
  }
  return reason;
}

TEST(NikTest, ValidMale) {
  absl::StatusOr<Nik> nik = ParseNik("1219010503890001");
  ASSERT_TRUE(nik.ok()) << nik.status();
  EXPECT_EQ(nik->province, 12);
  EXPECT_EQ(nik->regency, 19);
  EXPECT_EQ(nik->district, 1);
  EXPECT_EQ(nik->birth_day, 5);
  EXPECT_EQ(nik->birth_month, 3);
  EXPECT_EQ(nik->birth_year2, 89);
  EXPECT_FALSE(nik->female);
  EXPECT_EQ(nik->serial, 1);
}

TEST(NikTest, WomenHaveDayPlusForty) {
  absl::StatusOr<Nik> nik = ParseNik("3201024503899999");  // 450389: 5 March 1989, female
  ASSERT_TRUE(nik.ok()) << nik.status();
  EXPECT_EQ(nik->province, 32);
  EXPECT_EQ(nik->district, 2);
  EXPECT_TRUE(nik->female);
  EXPECT_EQ(nik->birth_day, 5);
  EXPECT_EQ(nik->birth_month, 3);
  EXPECT_EQ(nik->serial, 9999);
  EXPECT_TRUE(ParseNik("3201014101000001").ok());  // women's 1 January
  EXPECT_TRUE(ParseNik("3201017112990001").ok());  // women's 31 December
}

TEST(NikTest, TwentyNinthOfFebruaryOnlyInLeapYears) {
  EXPECT_TRUE(ParseNik("1219012902880001").ok());
  absl::StatusOr<Nik> woman = ParseNik("1219016902880001");  // a woman born 29 Feb 1988
  ASSERT_TRUE(woman.ok()) << woman.status();
  EXPECT_TRUE(woman->female);
  EXPECT_EQ(woman->birth_day, 29);
  EXPECT_TRUE(ParseNik("1219012902000001").ok());  // 2000 was a leap year
  EXPECT_EQ(Reason("1219012902890001"),
            "birth day 29 does not exist in month 02 of a non-leap year (women: day + 40)");
  EXPECT_EQ(Reason("1219016902890001"),
            "birth day 69 does not exist in month 02 of a non-leap year (women: day + 40)");
  EXPECT_EQ(Reason("1219013002880001"),
            "birth day 30 does not exist in month 02 (women: day + 40)");
  EXPECT_EQ(Reason("1219013104890001"),
            "birth day 31 does not exist in month 04 (women: day + 40)");
  EXPECT_TRUE(ParseNik("1219013101890001").ok());  // 31 January
}

TEST(NikTest, ImpossibleMonths) {
  EXPECT_EQ(Reason("1219010500890001"), "birth month 00 is not 01-12");
  EXPECT_EQ(Reason("1219010513890001"), "birth month 13 is not 01-12");
}

TEST(NikTest, ImpossibleDays) {
  EXPECT_EQ(Reason("1219010003890001"), "birth day 00 is not 01-31 or 41-71 (women: day + 40)");
  EXPECT_EQ(Reason("1219013203890001"), "birth day 32 is not 01-31 or 41-71 (women: day + 40)");
  EXPECT_EQ(Reason("1219014003890001"), "birth day 40 is not 01-31 or 41-71 (women: day + 40)");
  EXPECT_EQ(Reason("1219017203890001"), "birth day 72 is not 01-31 or 41-71 (women: day + 40)");
  EXPECT_FALSE(ParseNik("1219019903890001").ok());
}

TEST(NikTest, ShapeErrors) {
  EXPECT_EQ(Reason("121901050389001"), "must be 16 digits, got 15");
  EXPECT_EQ(Reason("12190105038900011"), "must be 16 digits, got 17");
  EXPECT_EQ(Reason(""), "must be 16 digits, got 0");
  EXPECT_EQ(Reason("1219A10503890001"), "must contain only digits (position 5 is 'A')");
  EXPECT_EQ(Reason("12190105038900A1"), "must contain only digits (position 15 is 'A')");
  EXPECT_EQ(Reason("1219010503890 01"), "must contain only digits (position 14 is ' ')");
  EXPECT_EQ(Reason(std::string("121901050389\0"
                               "001",
                               16)),
            "must contain only digits (position 13 is '\\x00')");
  EXPECT_EQ(Reason("-219010503890001"), "must contain only digits (position 1 is '-')");
}

TEST(NikTest, SerialStartsAtOne) {
  EXPECT_EQ(Reason("1219010503890000"), "serial 0000 is not valid");
  EXPECT_EQ(ParseNik("1219010503891000")->serial, 1000);
}

TEST(NikTest, ProvinceMustBePlausible) {
  EXPECT_EQ(Reason("0019010503890001"), "province code 00 is not a plausible province");
  EXPECT_EQ(Reason("9919010503890001"), "province code 99 is not a plausible province");
  EXPECT_EQ(Reason("2019010503890001"), "province code 20 is not a plausible province");
  EXPECT_EQ(Reason("9719010503890001"), "province code 97 is not a plausible province");
  for (const char* prefix :
       {"11", "19", "21", "31", "36", "51", "53", "61", "65", "71", "76", "81", "82", "91", "96"}) {
    EXPECT_TRUE(ParseNik(std::string(prefix) + "19010503890001").ok()) << prefix;
  }
}

TEST(NikTest, OldCodesStayValidAfterRegionSplits) {
  // Issued in Papua Barat (92) before Papua Barat Daya (96) was split off: still valid.
  absl::StatusOr<Nik> papua_barat = ParseNik("9201010503890001");
  ASSERT_TRUE(papua_barat.ok()) << papua_barat.status();
  EXPECT_EQ(papua_barat->province, 92);
  // A regency code that is no current region (there is no 12.99) is no reason to reject.
  EXPECT_TRUE(ParseNik("1299010503890001").ok());
}

TEST(NikTest, RegencyAndDistrictZeroAreInvalid) {
  EXPECT_EQ(Reason("1200010503890001"), "regency code 00 is not valid");
  EXPECT_EQ(Reason("1219000503890001"), "district code 00 is not valid");
  EXPECT_TRUE(ParseNik("1299990503890001").ok());
}

TEST(NikTest, NoReasonQuotesTheNik) {
  // Reason() checks every refusal; here a spread of them, including near-valid NIKs.
  for (const char* nik :
       {"1219010503890000", "1219016902890001", "9919010503890001", "1219013102890001",
        "1219010513890001", "1200010503890001", "1219000503890001", "121901050389000X",
        "12190105038900011", "121901050389001"}) {
    Reason(nik);
  }
}

}  // namespace
}  // namespace uhc
