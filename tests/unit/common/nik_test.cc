#include "common/nik.h"

#include <string>

#include "gtest/gtest.h"

namespace uhc {
namespace {

std::string Reason(const std::string& nik) {
  absl::StatusOr<Nik> parsed = ParseNik(nik);
  EXPECT_FALSE(parsed.ok()) << nik;
  std::string reason(parsed.status().message());
  if (!nik.empty()) {
    EXPECT_EQ(reason.find(nik), std::string::npos) << "the reason must not quote the NIK";
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
  absl::StatusOr<Nik> nik = ParseNik("3201014503890123");
  ASSERT_TRUE(nik.ok()) << nik.status();
  EXPECT_TRUE(nik->female);
  EXPECT_EQ(nik->birth_day, 5);
  EXPECT_EQ(nik->serial, 123);
  EXPECT_TRUE(ParseNik("3201017112990001").ok());  // women's 31 December
}

TEST(NikTest, TwentyNinthOfFebruaryOnlyInLeapYears) {
  EXPECT_TRUE(ParseNik("1219012902880001").ok());
  EXPECT_TRUE(ParseNik("1219016902880001").ok());  // a woman born 29 Feb 1988
  EXPECT_TRUE(ParseNik("1219012902000001").ok());  // 2000 was a leap year
  EXPECT_EQ(Reason("1219012902890001"),
            "birth day 29 does not exist in month 02 (women: day + 40)");
  EXPECT_FALSE(ParseNik("1219013104890001").ok());  // 31 April
}

TEST(NikTest, ImpossibleDatesAndMonths) {
  EXPECT_EQ(Reason("1219010500890001"), "birth month 00 is not 01-12");
  EXPECT_EQ(Reason("1219010513890001"), "birth month 13 is not 01-12");
  EXPECT_FALSE(ParseNik("1219010003890001").ok());  // day 00
  EXPECT_FALSE(ParseNik("1219013203890001").ok());  // day 32
  EXPECT_FALSE(ParseNik("1219014003890001").ok());  // day 40 (neither men nor women)
  EXPECT_FALSE(ParseNik("1219017203890001").ok());  // women's day 32
}

TEST(NikTest, ShapeErrors) {
  EXPECT_EQ(Reason("121901050389001"), "must be 16 digits, got 15");
  EXPECT_EQ(Reason("12190105038900011"), "must be 16 digits, got 17");
  EXPECT_EQ(Reason(""), "must be 16 digits, got 0");
  EXPECT_EQ(Reason("12190105038900A1"), "must contain only digits (position 15 is not a digit)");
  EXPECT_EQ(Reason("1219010503890000"), "serial 0000 is not valid");
}

TEST(NikTest, ProvinceMustBePlausibleButOldCodesStayValid) {
  EXPECT_EQ(Reason("0019010503890001"), "province code 00 is not a plausible province");
  EXPECT_FALSE(ParseNik("9919010503890001").ok());
  EXPECT_FALSE(ParseNik("2019010503890001").ok());
  // Issued in Papua Barat (92) before Papua Barat Daya (96) was split off: still valid.
  EXPECT_TRUE(ParseNik("9201010503890001").ok());
  // A regency code that is not a current region (e.g. 12.99) is not a reason to reject.
  EXPECT_TRUE(ParseNik("1299010503890001").ok());
  EXPECT_FALSE(ParseNik("1200010503890001").ok());
  EXPECT_FALSE(ParseNik("1219000503890001").ok());
}

}  // namespace
}  // namespace uhc
