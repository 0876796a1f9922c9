// The randomized model test: 200,000+ events over 24 kab/kota with exact duplicates, reordering
// (events before their participant's enrolment, late events),
// relocations and terminations, streamed through IngestEvents; afterwards every per-event outcome,
// every region aggregate and every participant record in Redis equals the reference model.
#include "common/config/files.h"
#include "common/domain/identity.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"
#include "tests/support/model_check.h"
#include "tests/support/reference_model.h"

namespace uhc::testing {
namespace {

class IngestModelTest : public EnrollmentFixture {};

TEST_F(IngestModelTest, RedisEqualsTheReferenceModelExactly) {
  RegionRegistry registry = *LoadRegions(UHC_SOURCE_DIR "/data");
  std::vector<std::string> regions;
  for (const Region* r : registry.regencies()) {
    if (regions.size() < 24 && r->code.back() % 3 == 0) regions.push_back(r->code);
  }
  ASSERT_EQ(regions.size(), 24u);
  std::vector<v1::ParticipantEvent> events = GenerateHistory(regions, 20000, 200000, 2026);
  ASSERT_GE(events.size(), 200000u);

  ReferenceModel model;
  std::vector<v1::EventOutcome> expected;
  expected.reserve(events.size());
  for (const auto& e : events) expected.push_back(model.Apply(e));

  // Stream in batches of 2,000, one in flight (the ack comes before the next batch).
  grpc::ClientContext context;
  auto stream = enrollment_->IngestEvents(&context);
  size_t mismatches = 0;
  std::map<v1::EventOutcome, int> seen;
  for (size_t start = 0; start < events.size(); start += 2000) {
    v1::IngestEventsRequest request;
    size_t end = std::min(events.size(), start + 2000);
    for (size_t k = start; k < end; ++k) *request.add_events() = events[k];
    ASSERT_TRUE(stream->Write(request));
    v1::IngestEventsResponse response;
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_EQ(response.results_size(), static_cast<int>(end - start));
    for (const auto& result : response.results()) {
      ++seen[result.outcome()];
      if (result.outcome() != expected[start + result.index()]) ++mismatches;
    }
  }
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(mismatches, 0u);
  // Every valid event is kept, whatever its order: APPLIED, or DUPLICATE when sent again; none
  // is STALE or REJECTED (the generator's out-of-order events once were).
  EXPECT_GT(seen[v1::EVENT_OUTCOME_APPLIED], 100000);
  EXPECT_GT(seen[v1::EVENT_OUTCOME_DUPLICATE], 1000);
  EXPECT_EQ(seen[v1::EVENT_OUTCOME_STALE], 0);
  EXPECT_EQ(seen[v1::EVENT_OUTCOME_REJECTED], 0);

  // Every region aggregate and every participant record, read straight from Redis.
  ReconnectingConnection redis(redis_->options());
  ExpectAggregatesEqualModel(redis, model, regions);
  const size_t records = ExpectRecordsEqualModel(redis, model, *NikKeyer::Create(kTestSecret, 4));
  EXPECT_GT(records, 20000u);  // tombstones of moved participants included
}

}  // namespace
}  // namespace uhc::testing
