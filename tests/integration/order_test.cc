// Issue #26 through the service: the same events (two years of random histories: all five kinds,
// re-enrolments, moves back and forth, terminations, several on one day and across midnight WIB)
// delivered in time order, shuffled, reversed, in random batches with resends, or split across
// four concurrent streams, give exactly the figures of the reference model (which does not depend
// on the order events are applied in): live counts, every participant's record and every day's
// as-of counts, with the module and with the Lua function.
#include <set>
#include <tuple>

#include "common/domain/identity.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/delivery.h"
#include "tests/support/events.h"
#include "tests/support/model_check.h"
#include "tests/support/reference_model.h"

namespace uhc::testing {
namespace {

class OrderTest : public EnrollmentFixture,
                  public ::testing::WithParamInterface<std::tuple<bool, Delivery>> {};

TEST_P(OrderTest, TheSameEventsGiveTheModelsFiguresWhateverTheOrder) {
  const auto [module, delivery] = GetParam();
  if (!module) {
    StopService();
    EnrollmentServerOptions options = Options();
    options.limits.apply_engine = ApplyEngine::kFunction;
    ASSERT_NO_FATAL_FAILURE(StartService(options));
  }
  const std::vector<std::string> regions = {"11.01", "11.02", "12.03", "12.19", "12.75", "31.71"};
  // Steps of up to 70 days: about ten events a person over up to two years from 2025-01-01,
  // cut at 2026-11-30 (a person's later events only: what is left is a history too).
  const uint32_t seed = 26 + static_cast<uint32_t>(delivery) * 2 + (module ? 1 : 0);
  std::vector<v1::ParticipantEvent> events;
  for (auto& e : GenerateHistory(regions, 2000, 20000, seed, 70 * 86400)) {
    if (e.event_time().seconds() < kBaseTime + 698 * 86400) events.push_back(std::move(e));
  }
  ReferenceModel model;
  std::set<std::tuple<std::string, std::string, std::string, int64_t>> distinct;
  for (const auto& e : events) {
    model.Apply(e);
    distinct.emplace(e.nik(), e.region_code(), e.event_id(), e.event_time().seconds());
  }
  const Delivered got = DeliverConcurrently(enrollment_.get(), Deal(events, delivery, seed), seed);
  ASSERT_EQ(got.failed, 0);
  EXPECT_EQ(got.other, 0) << "every valid event is APPLIED or DUPLICATE: " << got.first_other;
  EXPECT_EQ(static_cast<size_t>(got.applied), distinct.size()) << "each kept exactly once";

  ReconnectingConnection redis(redis_->options());
  ExpectAggregatesEqualModel(redis, model, regions);
  EXPECT_GT(ExpectRecordsEqualModel(redis, model, *NikKeyer::Create(kTestSecret, 4)), 2000u);
  const auto [first, last] = DaysOf(events);
  EXPECT_GT(last - first, 365) << "the histories span more than a year";
  EXPECT_EQ(ExpectEveryDayEqualsModel(redis, model, regions, first, last),
            static_cast<int>(regions.size() * (last - first + 1)));
}

INSTANTIATE_TEST_SUITE_P(
    EnginesAndDeliveries, OrderTest,
    ::testing::Combine(::testing::Values(true, false),
                       ::testing::Values(Delivery::kInOrder, Delivery::kShuffled,
                                         Delivery::kReversed, Delivery::kResent,
                                         Delivery::kConcurrent)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) ? "Module" : "Function") +
             DeliveryName(std::get<1>(info.param));
    });

}  // namespace
}  // namespace uhc::testing
