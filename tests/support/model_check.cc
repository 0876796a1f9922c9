#include "tests/support/model_check.h"

#include <cstdlib>
#include <map>

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
    std::map<std::string, int64_t> agg;
    for (size_t j = 0; j + 1 < reply->elements; j += 2) {
      agg[std::string(reply->element[j]->str, reply->element[j]->len)] =
          std::atoll(std::string(reply->element[j + 1]->str, reply->element[j + 1]->len).c_str());
    }
    auto it = model.regions().find(regions[i]);
    const RegionCounts want = it == model.regions().end() ? RegionCounts() : it->second;
    EXPECT_EQ(agg["part"], want.Participants()) << regions[i];
    EXPECT_EQ(agg["act"], want.Active()) << regions[i];
    for (int s = 1; s <= 5; ++s) {
      EXPECT_EQ(agg["n" + std::to_string(s)], want.participants[s]) << regions[i] << " n" << s;
      EXPECT_EQ(agg["a" + std::to_string(s)], want.active[s]) << regions[i] << " a" << s;
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
  return want.size();
}

}  // namespace uhc::testing
