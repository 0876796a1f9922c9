#include "tests/support/model_check.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>

#include "common/redis/history.h"
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

int ExpectEveryDayEqualsModel(RedisClient& redis, const ReferenceModel& model,
                              const std::vector<std::string>& regions, int64_t first,
                              int64_t last) {
  auto histories = ReadHistories(redis, regions);
  EXPECT_TRUE(histories.ok()) << histories.status();
  if (!histories.ok()) return 0;
  std::vector<absl::CivilDay> days;
  for (int64_t d = first; d <= last; ++d) days.push_back(CivilDayOf(d));
  int compared = 0;
  for (const std::string& region : regions) {
    const std::vector<RegionCounts> have = histories->at(region).OnEach(days);
    for (size_t k = 0; k < days.size(); ++k) {
      const int64_t day = first + static_cast<int64_t>(k);
      const RegionCounts want = model.CountsOn(region, day);
      for (int s = 1; s <= 5; ++s) {
        if (have[k].participants[s] != want.participants[s] ||
            have[k].active[s] != want.active[s]) {
          ADD_FAILURE() << region << " on " << FormatDate(days[k]) << ", segment " << s
                        << ": participants " << have[k].participants[s] << " (model "
                        << want.participants[s] << "), active " << have[k].active[s] << " (model "
                        << want.active[s] << ")";
          return compared;
        }
      }
      ++compared;
    }
  }
  return compared;
}

std::pair<int64_t, int64_t> DaysOf(const std::vector<v1::ParticipantEvent>& events) {
  int64_t first = INT64_MAX, last = INT64_MIN;
  for (const auto& e : events) {
    const int64_t day = WibDayOfMillis(e.event_time().seconds() * 1000);
    first = std::min(first, day);
    last = std::max(last, day);
  }
  return {first, last};
}

}  // namespace uhc::testing
