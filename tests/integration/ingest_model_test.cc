// The randomized model test: 200,000+ events over 24 kab/kota with exact duplicates, reordering,
// relocations and terminations, streamed through IngestEvents; afterwards every per-event outcome,
// every region aggregate and every participant record in Redis equals the reference model.
#include "common/participant_key.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"
#include "tests/support/reference_model.h"

namespace uhc::testing {
namespace {

class IngestModelTest : public EnrollmentFixture {};

TEST_F(IngestModelTest, RedisEqualsTheReferenceModelExactly) {
  RegionRegistry registry = *RegionRegistry::LoadFromDirectory(UHC_SOURCE_DIR "/data");
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
  // The mix exercises every outcome.
  EXPECT_GT(seen[v1::APPLIED], 100000);
  EXPECT_GT(seen[v1::DUPLICATE], 1000);
  EXPECT_GT(seen[v1::STALE], 1000);
  EXPECT_GT(seen[v1::REJECTED], 100);

  // Every region aggregate.
  for (const std::string& region : regions) {
    auto agg = Aggregate(region);
    const RegionCounts& want = model.regions().at(region);
    EXPECT_EQ(agg["part"], want.Participants()) << region;
    EXPECT_EQ(agg["act"], want.Active()) << region;
    for (int s = 1; s <= 5; ++s) {
      EXPECT_EQ(agg["n" + std::to_string(s)], want.participants[s]) << region << " segment " << s;
      EXPECT_EQ(agg["a" + std::to_string(s)], want.active[s]) << region << " segment " << s;
    }
  }

  // Every participant record, read straight from the buckets.
  NikKeyer keyer = *NikKeyer::Create(kTestSecret, 4);
  auto redis = redis_->Connect();
  std::vector<std::string> buckets, fields;
  std::vector<const ReferenceModel::Record*> want;
  for (const auto& [key, record] : model.records()) {
    ParticipantKey k = keyer.Key(key.second);
    buckets.push_back(BucketKey(key.first, k.bucket));
    fields.emplace_back(k.field.begin(), k.field.end());
    want.push_back(&record);
  }
  std::vector<std::vector<absl::string_view>> commands;
  for (size_t i = 0; i < buckets.size(); ++i) commands.push_back({"HGET", buckets[i], fields[i]});
  auto replies = redis->Pipeline(commands);
  ASSERT_TRUE(replies.ok());
  size_t wrong = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const redisReply* r = (*replies)[i].get();
    if (r->type != REDIS_REPLY_STRING || r->len != 11) {
      ++wrong;
      continue;
    }
    auto flags = static_cast<uint8_t>(r->str[0]);
    uint64_t ts = 0;
    for (int b = 1; b <= 6; ++b) ts = (ts << 8) | static_cast<uint8_t>(r->str[b]);
    if ((flags & 7) != want[i]->segment || ((flags & 8) != 0) != want[i]->active ||
        ((flags >> 4) & 7) != want[i]->kind || ts != want[i]->ts_ms) {
      ++wrong;
    }
  }
  EXPECT_EQ(wrong, 0u) << "of " << want.size() << " participant records";
  EXPECT_GT(want.size(), 20000u);  // tombstones of moved participants included
}

}  // namespace
}  // namespace uhc::testing
