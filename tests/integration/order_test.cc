// Issue #26 through the service: the same events, shuffled, resent and split across four
// concurrent streams, give exactly the figures of the reference model (which does not depend on
// the order events are applied in): live counts, every participant's record and every day's
// as-of counts, with the module and with the Lua function.
#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "common/config/files.h"
#include "common/domain/identity.h"
#include "common/redis/history.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"
#include "tests/support/model_check.h"
#include "tests/support/reference_model.h"

namespace uhc::testing {
namespace {

class OrderTest : public EnrollmentFixture, public ::testing::WithParamInterface<bool> {};

TEST_P(OrderTest, FourConcurrentShuffledStreamsWithResendsGiveTheModelsFigures) {
  const bool module = GetParam();
  if (!module) {
    StopService();
    EnrollmentServerOptions options = Options();
    options.limits.apply_engine = ApplyEngine::kFunction;
    ASSERT_NO_FATAL_FAILURE(StartService(options));
  }
  const std::vector<std::string> regions = {"11.01", "11.02", "12.03", "12.19", "12.75", "31.71"};
  std::vector<v1::ParticipantEvent> events =
      GenerateHistory(regions, 3000, 30000, module ? 26 : 62, 3 * 86400);
  ReferenceModel model;
  std::set<std::tuple<std::string, std::string, std::string, int64_t>> distinct;
  for (const auto& e : events) {
    model.Apply(e);
    distinct.emplace(e.nik(), e.region_code(), e.event_id(), e.occurred_at().seconds());
  }
  // Shuffled, a tenth resent, dealt to four streams at random.
  std::mt19937_64 rng(module ? 1 : 2);
  std::shuffle(events.begin(), events.end(), rng);
  const size_t n = events.size();
  for (size_t k = 0; k < n / 10; ++k) events.push_back(events[rng() % n]);
  std::shuffle(events.begin(), events.end(), rng);
  std::vector<std::vector<v1::ParticipantEvent>> streams(4);
  for (const auto& e : events) streams[rng() % 4].push_back(e);

  std::atomic<int> applied{0}, other{0}, failed{0};
  std::vector<std::thread> threads;
  for (size_t s = 0; s < streams.size(); ++s) {
    threads.emplace_back([&, s] {
      std::mt19937 local(static_cast<uint32_t>(s));
      grpc::ClientContext context;
      auto stream = enrollment_->IngestEvents(&context);
      for (size_t start = 0; start < streams[s].size();) {
        const size_t end = std::min(streams[s].size(), start + 1 + local() % 400);
        v1::IngestEventsRequest request;
        for (size_t k = start; k < end; ++k) *request.add_events() = streams[s][k];
        v1::IngestEventsResponse response;
        if (!stream->Write(request) || !stream->Read(&response)) {
          ++failed;
          return;
        }
        for (const auto& r : response.results()) {
          if (r.outcome() == v1::APPLIED) {
            ++applied;
          } else if (r.outcome() != v1::DUPLICATE) {
            ++other;
          }
        }
        start = end;
      }
      stream->WritesDone();
      if (!stream->Finish().ok()) ++failed;
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failed.load(), 0);
  EXPECT_EQ(other.load(), 0) << "every valid event is APPLIED or DUPLICATE";
  EXPECT_EQ(static_cast<size_t>(applied.load()), distinct.size()) << "each kept exactly once";

  ReconnectingConnection redis(redis_->options());
  ExpectAggregatesEqualModel(redis, model, regions);
  EXPECT_GT(ExpectRecordsEqualModel(redis, model, *NikKeyer::Create(kTestSecret, 4)), 3000u);
  // Every day's figures, from the first event's day to the last's.
  int64_t first = INT64_MAX, last = 0;
  for (const auto& e : events) {
    const int64_t day = (e.occurred_at().seconds() + 7 * 3600) / 86400;
    first = std::min(first, day);
    last = std::max(last, day);
  }
  auto histories = ReadHistories(redis, regions);
  ASSERT_TRUE(histories.ok()) << histories.status();
  int days_compared = 0;
  for (const std::string& region : regions) {
    std::vector<absl::CivilDay> days;
    for (int64_t d = first; d <= last; ++d) days.push_back(CivilDayOf(d));
    const std::vector<RegionCounts> have = histories->at(region).OnEach(days);
    for (size_t k = 0; k < days.size(); ++k) {
      const RegionCounts want = model.CountsOn(region, first + static_cast<int64_t>(k));
      for (int s = 1; s <= 5; ++s) {
        ASSERT_EQ(have[k].participants[s], want.participants[s])
            << region << " day " << first + static_cast<int64_t>(k) << " n" << s;
        ASSERT_EQ(have[k].active[s], want.active[s])
            << region << " day " << first + static_cast<int64_t>(k) << " a" << s;
      }
      ++days_compared;
    }
  }
  EXPECT_GT(days_compared, 6 * 20);
}

INSTANTIATE_TEST_SUITE_P(Engines, OrderTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Module" : "Function"; });

}  // namespace
}  // namespace uhc::testing
