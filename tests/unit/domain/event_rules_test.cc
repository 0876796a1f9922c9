#include "common/domain/event_rules.h"

#include "absl/time/civil_time.h"
#include "common/config/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/events.h"

namespace uhc {
namespace {

using ::testing::HasSubstr;

class EventRulesTest : public ::testing::Test {
 protected:
  v1::ParticipantEvent StatusAt(absl::Time at) {
    v1::ParticipantEvent e =
        testing::StatusChanged("e", testing::TestNik(1), "12.19", absl::ToUnixSeconds(at), true);
    return e;
  }

  RegionRegistry regions_ = *LoadRegions(UHC_SOURCE_DIR "/data");
  NikKeyer keyer_ = *NikKeyer::Create("unit-test-secret-0123456789abcdef-01", 4);
  const absl::TimeZone wib_ = absl::FixedTimeZone(7 * 3600);
  // 2026-12-07 10:00 WIB: the window of 800 days begins on 2024-09-28 (WIB).
  const absl::Time now_ = absl::FromCivil(absl::CivilSecond(2026, 12, 7, 10, 0, 0), wib_);
};

// Events older than the history window are refused naming its first day; at the limit (its first
// instant) an event is kept; with no window every day is kept.
TEST_F(EventRulesTest, AnEventBeforeTheHistoryWindowIsRejectedNamingItsFirstDay) {
  const EventValidator windowed(&regions_, &keyer_, EventValidator::kDefaultMaxFutureSkew, 800);
  const absl::Time first = absl::FromCivil(absl::CivilDay(2024, 9, 28), wib_);
  PreparedEvent at_limit = windowed.Prepare(StatusAt(first), 0, true, now_);
  EXPECT_FALSE(at_limit.rejected) << at_limit.reason;
  PreparedEvent before = windowed.Prepare(StatusAt(first - absl::Seconds(1)), 3, true, now_);
  ASSERT_TRUE(before.rejected);
  EXPECT_EQ(before.field, "events[3].event_time");
  EXPECT_THAT(before.reason, HasSubstr("2024-09-28"));
  EXPECT_THAT(before.reason, HasSubstr("--history_days 800"));
  const EventValidator unbounded(&regions_, &keyer_);
  EXPECT_FALSE(unbounded.Prepare(StatusAt(first - absl::Hours(24 * 365)), 0, true, now_).rejected);
}

}  // namespace
}  // namespace uhc
