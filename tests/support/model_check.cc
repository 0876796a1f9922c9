#include "tests/support/model_check.h"

#include <cstdlib>
#include <map>

#include "common/redis/schema.h"
#include "gtest/gtest.h"

namespace uhc::testing {

void ExpectAggregatesEqualModel(RedisClient& redis, const ReferenceModel& model,
                                const std::vector<std::string>& regions) {
  std::vector<std::string> keys;
  for (const std::string& r : regions) keys.push_back(AggregateKey(r));
  RedisCommands reads;
  for (const std::string& k : keys) reads.push_back({"HGETALL", k});
  auto aggregates = redis.Pipeline(reads);
  ASSERT_TRUE(aggregates.ok()) << aggregates.status();
  for (size_t i = 0; i < regions.size(); ++i) {
    const redisReply* reply = (*aggregates)[i].get();
    ASSERT_EQ(reply->type, REDIS_REPLY_ARRAY) << regions[i];
    // part and act, which ParseAggregate sums itself
    std::map<std::string, int64_t> totals = AggregateFields(reply);
    const RegionCounts have = ParseAggregate(reply).counts;
    auto it = model.regions().find(regions[i]);
    const RegionCounts want = it == model.regions().end() ? RegionCounts() : it->second;
    EXPECT_EQ(totals[agg::kParticipants], want.Participants()) << regions[i];
    EXPECT_EQ(totals[agg::kActive], want.Active()) << regions[i];
    for (int s = 1; s <= 5; ++s) {
      EXPECT_EQ(have.participants[s], want.participants[s]) << regions[i] << " n" << s;
      EXPECT_EQ(have.active[s], want.active[s]) << regions[i] << " a" << s;
    }
  }
}

size_t ExpectRecordsEqualModel(RedisClient& redis, const ReferenceModel& model,
                               const NikKeyer& keyer) {
  std::vector<std::string> buckets, fields;
  std::vector<const ReferenceModel::Record*> want;
  for (const auto& [key, record] : model.records()) {
    ParticipantKey k = keyer.Key(key.second);
    buckets.push_back(BucketKey(key.first, k.bucket));
    fields.emplace_back(k.field.begin(), k.field.end());
    want.push_back(&record);
  }
  RedisCommands commands;
  for (size_t i = 0; i < buckets.size(); ++i) commands.push_back({"HGET", buckets[i], fields[i]});
  auto replies = redis.Pipeline(commands);
  EXPECT_TRUE(replies.ok()) << replies.status();
  if (!replies.ok()) return 0;
  size_t wrong = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const redisReply* r = (*replies)[i].get();
    std::optional<ParticipantRecord> have =
        r->type == REDIS_REPLY_STRING ? DecodeStoredParticipant(absl::string_view(r->str, r->len))
                                      : std::nullopt;
    if (!have || have->segment != want[i]->segment || have->active != want[i]->active ||
        static_cast<int>(have->kind) != want[i]->kind || have->occurred_at_ms != want[i]->ts_ms) {
      ++wrong;
    }
  }
  EXPECT_EQ(wrong, 0u) << "of " << want.size() << " participant records";
  return want.size();
}

}  // namespace uhc::testing
