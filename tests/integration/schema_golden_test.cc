// The Redis schema in C++ (common/redis/schema.h) against the Lua libraries that write the data:
// their constants are compared, then the functions run on a real Redis and what they write is
// decoded with the C++ codec. If either side changes alone, this fails.
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "classifier-svc/tier_log.h"
#include "common/config/files.h"
#include "common/domain/identity.h"
#include "common/redis/history.h"
#include "common/redis/schema.h"
#include "enrollment-svc/event_applier.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"

namespace uhc {
extern const char kTierFunctionsLua[];
extern const char kUhcApplyV3Lua[];
namespace testing {
namespace {

std::string ReadSource(const std::string& path) {
  std::ifstream in(std::string(UHC_SOURCE_DIR) + "/" + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "local A, B, C = 1, 2, 3" lines of a Lua file (upper-case names, integer values), as
// name -> value.
std::map<std::string, int64_t> LuaConstants(const std::string& lua) {
  std::map<std::string, int64_t> out;
  std::istringstream in(lua);
  for (std::string l; std::getline(in, l);) {
    absl::string_view line = l;
    if (!absl::ConsumePrefix(&line, "local ")) continue;
    std::vector<std::string> sides = absl::StrSplit(line, " = ");
    if (sides.size() != 2 || sides[0].empty() || !absl::ascii_isupper(sides[0][0]) ||
        sides[1].empty() || !absl::ascii_isdigit(sides[1][0])) {
      continue;
    }
    std::vector<std::string> names = absl::StrSplit(sides[0], ',');
    std::vector<std::string> values = absl::StrSplit(sides[1], ',');
    for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
      out[std::string(absl::StripAsciiWhitespace(names[i]))] =
          std::stoll(std::string(absl::StripAsciiWhitespace(values[i])));
    }
  }
  return out;
}

void ExpectLuaConstantsAreTheCppOnes(const std::string& lua) {
  std::map<std::string, int64_t> c = LuaConstants(lua);
  EXPECT_EQ(c["ENROLL"], apply_abi::kEnroll);
  EXPECT_EQ(c["STATUS"], apply_abi::kStatus);
  EXPECT_EQ(c["SEGMENT"], apply_abi::kSegment);
  EXPECT_EQ(c["LEAVE"], apply_abi::kLeave);
  EXPECT_EQ(c["ENTER"], apply_abi::kEnter);
  EXPECT_EQ(c["TERMINATE"], apply_abi::kTerminate);
  EXPECT_EQ(c["APPLIED"], apply_abi::kApplied);
  EXPECT_EQ(c["DUPLICATE"], apply_abi::kDuplicate);
  EXPECT_EQ(c["STALE"], apply_abi::kStale);
  EXPECT_EQ(c["NOT_FOUND"], apply_abi::kNotFound);
  EXPECT_EQ(c["GONE"], apply_abi::kGone);
  EXPECT_EQ(c["SKIPPED"], apply_abi::kSkipped);
  EXPECT_EQ(c["FROM_LEAVE"], apply_abi::kEnterFromLeave);
  EXPECT_EQ(c["K_ENROLLED"], static_cast<int>(RecordKind::kEnrolled));
  EXPECT_EQ(c["K_STATUS"], static_cast<int>(RecordKind::kStatusChanged));
  EXPECT_EQ(c["K_SEGMENT"], static_cast<int>(RecordKind::kSegmentChanged));
  EXPECT_EQ(c["K_RELOCATED"], static_cast<int>(RecordKind::kRelocated));
  EXPECT_EQ(c["K_MOVED_OUT"], static_cast<int>(RecordKind::kMovedOut));
  EXPECT_EQ(c["K_TERMINATED"], static_cast<int>(RecordKind::kTerminated));
}

TEST(SchemaGoldenTest, LuaConstantsAreTheCppOnes) {
  // The library as loaded: its constants generated at build time from apply_constants.h.
  const std::string v3 = kUhcApplyV3Lua;
  ExpectLuaConstantsAreTheCppOnes(v3);
  EXPECT_EQ(LuaConstants(v3)["EVENT_BYTES"], static_cast<int>(apply_abi::kEventArgBytes));
  EXPECT_EQ(LuaConstants(v3)["EVENT4_BYTES"], static_cast<int>(apply_abi::kEventArgBytesV4));
  EXPECT_EQ(v3.find("@APPLY_CONSTANTS@"), std::string::npos);
  // The source defines none of them itself (only its own CHUNK and STRIDE): one definition.
  for (const auto& [name, value] : LuaConstants(ReadSource("enrollment-svc/uhc_apply_v3.lua"))) {
    EXPECT_TRUE(name == "CHUNK" || name == "STRIDE") << name << " defined in the Lua source";
  }
  for (const char* name : {apply_abi::kApplyFunction, apply_abi::kApplyFunctionV4,
                           apply_abi::kSetPopulationFunction, apply_abi::kSetStatusFunction,
                           apply_abi::kTrimDaysFunction, apply_abi::kMigrateLayoutFunction}) {
    EXPECT_NE(v3.find(std::string("register_function('") + name + "'"), std::string::npos) << name;
  }
  const std::string tiers = ReadSource("classifier-svc/tier_functions.lua");
  for (const char* name : {tier_abi::kRecordFunction, tier_abi::kImportHistoryFunction}) {
    EXPECT_NE(tiers.find(std::string("register_function('") + name + "'"), std::string::npos)
        << name;
  }
}

class SchemaGoldenRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RedisOptions options = redis_.options();
    options.function_libraries = {kUhcApplyV3Lua, kTierFunctionsLua};
    client_ = MakeRedisClient(options);
    ASSERT_TRUE(client_->LoadFunctionLibraries().ok());
    auto keyer = NikKeyer::Create("golden-test-secret-0123", 4);
    ASSERT_TRUE(keyer.ok());
    key_ = keyer->Key("1219010503890001");
    field_ = std::string(key_.field.begin(), key_.field.end());
  }

  // One event through uhc_apply_v3 on region `region`; the result byte (0 for an error).
  uint8_t Apply(const std::string& region, uint8_t op, uint64_t ms, uint32_t id_hash, uint8_t arg) {
    const std::string aggregate = AggregateKey(region), days = DaysKey(region),
                      bucket = BucketKey(region, key_.bucket);
    std::string event = apply_abi::EncodeEventArg(op, 1, 3, field_, ms, id_hash, arg);
    auto reply =
        client_->Command({"FCALL", apply_abi::kApplyFunction, "3", aggregate, days, bucket, event});
    EXPECT_TRUE(reply.ok());
    return (*reply)->type == REDIS_REPLY_STRING && (*reply)->len == 1
               ? static_cast<uint8_t>((*reply)->str[0])
               : 0;
  }

  // uhc_migrate_layout_v3 on the region's aggregate: 1 if it moved it.
  int64_t Migrate(const std::string& region) {
    auto reply =
        client_->Command({"FCALL", apply_abi::kMigrateLayoutFunction, "1", AggregateKey(region)});
    EXPECT_TRUE(reply.ok());
    EXPECT_EQ((*reply)->type, REDIS_REPLY_INTEGER);
    return (*reply)->type == REDIS_REPLY_INTEGER ? (*reply)->integer : -1;
  }

  ParticipantRecord Record(const std::string& region) {
    auto reply = client_->Command({"HGET", BucketKey(region, key_.bucket), field_});
    EXPECT_TRUE(reply.ok());
    std::optional<ParticipantRecord> record =
        DecodeRecord(absl::string_view((*reply)->str, (*reply)->len));
    EXPECT_TRUE(record.has_value());
    return record.value_or(ParticipantRecord{});
  }

  RegionAggregate Aggregate(const std::string& region) {
    auto reply = client_->Command({"HGETALL", AggregateKey(region)});
    EXPECT_TRUE(reply.ok());
    return ParseAggregate(reply->get());
  }

  // An aggregate hash's fields as they are stored.
  std::map<std::string, std::string> RawAggregate(const std::string& region) {
    auto reply = client_->Command({"HGETALL", AggregateKey(region)});
    EXPECT_TRUE(reply.ok());
    std::map<std::string, std::string> raw;
    for (size_t i = 0; reply.ok() && i + 1 < (*reply)->elements; i += 2) {
      raw[(*reply)->element[i]->str] =
          std::string((*reply)->element[i + 1]->str, (*reply)->element[i + 1]->len);
    }
    return raw;
  }

  RedisServer redis_;
  std::unique_ptr<RedisClient> client_;
  ParticipantKey key_;
  std::string field_;
};

TEST_F(SchemaGoldenRedisTest, WhatTheApplyFunctionWritesDecodes) {
  const uint64_t t = 1735689600000;
  // Enrol as PBPU mandiri (4), active.
  EXPECT_EQ(apply_abi::Outcome(Apply("12.19", apply_abi::kEnroll, t, 7, 4 | 8)),
            apply_abi::kApplied);
  ParticipantRecord r = Record("12.19");
  EXPECT_EQ(r.segment, 4);
  EXPECT_TRUE(r.active);
  EXPECT_EQ(r.kind, RecordKind::kEnrolled);
  EXPECT_EQ(r.occurred_at_ms, t);
  EXPECT_EQ(r.event_id_hash, 7u);
  EXPECT_EQ(EncodeRecord(r).size(), kRecordBytes);
  EXPECT_EQ(DecodeRecord(EncodeRecord(r))->occurred_at_ms, t);
  RegionAggregate a = Aggregate("12.19");
  EXPECT_EQ(a.counts.participants[4], 1);
  EXPECT_EQ(a.counts.active[4], 1);
  EXPECT_EQ(a.version, 1);

  EXPECT_EQ(apply_abi::Outcome(Apply("12.19", apply_abi::kEnroll, t, 7, 4 | 8)),
            apply_abi::kDuplicate);
  EXPECT_EQ(apply_abi::Outcome(Apply("12.19", apply_abi::kStatus, t - 1, 8, 0)), apply_abi::kStale);
  EXPECT_EQ(apply_abi::Outcome(Apply("12.01", apply_abi::kStatus, t, 9, 0)), apply_abi::kNotFound);

  // A relocation in two calls: the LEAVE's result carries what the ENTER needs.
  uint8_t leave = Apply("12.19", apply_abi::kLeave, t + 1, 10, 0);
  EXPECT_EQ(apply_abi::Outcome(leave), apply_abi::kApplied);
  EXPECT_EQ(apply_abi::CarriedEnterArg(leave), 4 | 8);
  EXPECT_EQ(Record("12.19").kind, RecordKind::kMovedOut);
  EXPECT_FALSE(Record("12.19").live());
  EXPECT_EQ(apply_abi::Outcome(
                Apply("12.71", apply_abi::kEnter, t + 1, 10, apply_abi::CarriedEnterArg(leave))),
            apply_abi::kApplied);
  EXPECT_EQ(Record("12.71").kind, RecordKind::kRelocated);
  EXPECT_EQ(Aggregate("12.19").counts.participants[4], 0);
  EXPECT_EQ(Aggregate("12.71").counts.active[4], 1);

  EXPECT_EQ(apply_abi::Outcome(Apply("12.71", apply_abi::kTerminate, t + 2, 11, 0)),
            apply_abi::kApplied);
  EXPECT_EQ(Record("12.71").kind, RecordKind::kTerminated);
  EXPECT_EQ(apply_abi::Outcome(Apply("12.71", apply_abi::kStatus, t + 3, 12, 1)), apply_abi::kGone);
}

TEST_F(SchemaGoldenRedisTest, AdminFunctionsWriteTheFieldsTheParserReads) {
  ASSERT_TRUE(client_
                  ->Command({"FCALL", apply_abi::kSetPopulationFunction, "2", AggregateKey("12.19"),
                             SettingsKey("12.19"), "475000", "2024-12-31"})
                  .ok());
  ASSERT_TRUE(client_
                  ->Command({"FCALL", apply_abi::kSetStatusFunction, "2", AggregateKey("12.19"),
                             SettingsKey("12.19"), "1", "2025-09", "2025-10-01"})
                  .ok());
  RegionAggregate a = Aggregate("12.19");
  EXPECT_EQ(a.counts.population, 475000);
  EXPECT_TRUE(a.counts.uhc_prioritas);
  EXPECT_EQ(a.counts.dues_paid_through, 202509);
  EXPECT_EQ(a.version, 2);
}

TEST_F(SchemaGoldenRedisTest, TheTierFunctionWritesWhatTheLogReaderDecodes) {
  v1::TierChange change;
  change.set_region_code("12.19");
  change.set_policy_id("uhc-awards-2026");
  change.set_from_tier("none");
  change.set_to_tier("madya");
  std::vector<std::string> call = RecordTierCall(change, "", 1000, absl::Now() - absl::Hours(1));
  auto reply = client_->Command(RedisArgv(call.begin(), call.end()));
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ((*reply)->type, REDIS_REPLY_STRING) << "the log entry ID";
  auto again = client_->Command(RedisArgv(call.begin(), call.end()));
  EXPECT_EQ((*again)->type, REDIS_REPLY_NIL) << "compare-and-set: recorded once";
  auto log = ReadLogAfter(*client_, LogPosition{}, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ(log->front().change.to_tier(), "madya");
  EXPECT_EQ(log->front().change.resume_token(),
            ResumeToken(*ParseResumeToken("t1." + std::string((*reply)->str, (*reply)->len))));
  auto history = ReadTierHistory(*client_, "12.19", "");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  auto regions = LoadRegions(UHC_SOURCE_DIR "/data");
  ASSERT_TRUE(regions.ok());
  auto recorded = ReadRecordedTiers(*client_, *regions);
  ASSERT_TRUE(recorded.ok());
  EXPECT_EQ((*recorded)["12.19"]["uhc-awards-2026"], "madya");
}

}  // namespace

// Layout 1 (named counts, as uhc_apply_v1 wrote them) is refused by the apply, not misread, and
// moved to layout 3 (one packed field) by the migration enrollment-svc runs at start, exactly.
TEST_F(SchemaGoldenRedisTest, Layout1AggregatesMoveToLayout3Exactly) {
  const uint64_t t = 1735689600000;
  // One enrolment (segment 4, active) as uhc_apply_v1 counted it, and its record.
  ASSERT_TRUE(client_
                  ->Command({"HSET", AggregateKey("12.19"), "n4", "1", "a4", "1", "part", "1",
                             "act", "1", "ver", "1", "last", std::to_string(t), "pop", "100"})
                  .ok());
  ParticipantRecord record;
  record.segment = 4;
  record.active = true;
  record.kind = RecordKind::kEnrolled;
  record.occurred_at_ms = t;
  record.event_id_hash = 7;
  ASSERT_TRUE(
      client_->Command({"HSET", BucketKey("12.19", key_.bucket), field_, EncodeRecord(record)})
          .ok());
  const std::map<std::string, std::string> layout1 = RawAggregate("12.19");
  EXPECT_EQ(Apply("12.19", apply_abi::kStatus, t + 1, 8, 0), 0) << "applied over layout 1";
  EXPECT_EQ(RawAggregate("12.19"), layout1) << "a refused call changed the aggregate";
  EXPECT_EQ(Migrate("12.19"), 1);
  EXPECT_EQ(Migrate("12.19"), 0) << "a second run moves nothing";
  EXPECT_EQ(Migrate("12.03"), 0) << "no aggregate: nothing to move";

  // A status change through v3: inactive now.
  ASSERT_EQ(apply_abi::Outcome(Apply("12.19", apply_abi::kStatus, t + 1, 8, 0)),
            apply_abi::kApplied);
  std::map<std::string, std::string> raw = RawAggregate("12.19");
  auto after = client_->Command({"HGETALL", AggregateKey("12.19")});
  ASSERT_TRUE(after.ok());
  for (const char* gone : {"n4", "a4", "part", "act", "last"}) {
    EXPECT_EQ(raw.count(gone), 0u) << gone;
  }
  ASSERT_EQ(raw.count(agg::kPackedCounts), 1u);
  EXPECT_EQ(raw[agg::kPackedCounts].size(), 96u);
  EXPECT_EQ(raw[agg::kVersion], "1");  // v1's event; v3's is counted in `c`
  std::map<std::string, int64_t> v2 = AggregateFields(after->get());
  EXPECT_EQ(v2["n4"], 1);
  EXPECT_EQ(v2["a4"], 0);
  EXPECT_EQ(v2["part"], 1);
  EXPECT_EQ(v2["act"], 0);
  const RegionAggregate a = Aggregate("12.19");
  EXPECT_EQ(a.counts.participants[4], 1);
  EXPECT_EQ(a.counts.active[4], 0);
  EXPECT_EQ(a.version, 2);
  EXPECT_EQ(v2[agg::kVersion], 2);
  EXPECT_EQ(v2[agg::kNewestEvent], static_cast<int64_t>(t + 1));
}

// Layout 2 (the counts alone in a 40-byte `c`; the newest event and the current day's changes in
// fields last, t and e) is refused by the apply and moved to layout 3 by the migration, keeping
// the version, the newest event and the day history exactly.
TEST_F(SchemaGoldenRedisTest, Layout2AggregatesMoveToLayout3Exactly) {
  const int64_t day = 20089;                                           // 2025-01-01 in WIB
  const uint64_t t = static_cast<uint64_t>(day) * 86400000 + 3600000;  // 08:00 WIB that day
  auto pack = [](std::array<int32_t, 10> v) {
    std::string out;
    for (int32_t x : v) {
      for (int b = 3; b >= 0; --b)
        out.push_back(static_cast<char>(static_cast<uint32_t>(x) >> (8 * b)));
    }
    return out;
  };
  // 3 participants in segment 4, 2 active; 1 of each enrolled on `day - 1` (in `e`).
  ASSERT_TRUE(
      client_
          ->Command({"HSET", AggregateKey("12.19"), "c", pack({0, 0, 0, 3, 0, 0, 0, 0, 2, 0}),
                     "ver", "5", "last", std::to_string(t - 86400000), "t", std::to_string(day - 1),
                     "e", pack({0, 0, 0, 1, 0, 0, 0, 0, 1, 0}), "pop", "100"})
          .ok());
  EXPECT_EQ(Apply("12.19", apply_abi::kEnroll, t, 9, 4 | 8), 0) << "applied over layout 2";
  EXPECT_EQ(Migrate("12.19"), 1);
  ASSERT_EQ(apply_abi::Outcome(Apply("12.19", apply_abi::kEnroll, t, 9, 4 | 8)),
            apply_abi::kApplied);
  std::map<std::string, std::string> raw = RawAggregate("12.19");
  auto after = client_->Command({"HGETALL", AggregateKey("12.19")});
  ASSERT_TRUE(after.ok());
  for (const char* gone : {"last", "t", "e"}) EXPECT_EQ(raw.count(gone), 0u) << gone;
  EXPECT_EQ(raw[agg::kPackedCounts].size(), 96u);
  std::map<std::string, int64_t> fields = AggregateFields(after->get());
  EXPECT_EQ(fields["n4"], 4);
  EXPECT_EQ(fields["a4"], 3);
  EXPECT_EQ(fields[agg::kVersion], 6);
  EXPECT_EQ(fields[agg::kNewestEvent], static_cast<int64_t>(t));
  EXPECT_EQ(fields[agg::kPopulation], 100);
  EXPECT_EQ(Aggregate("12.19").version, 6);

  // The day that ended went to the day hash; the new one rides in `c`.
  auto history = ReadHistories(*client_, {"12.19"});
  ASSERT_TRUE(history.ok());
  const RegionHistory& h = (*history)["12.19"];
  ASSERT_EQ(h.days.count(day - 1), 1u);
  EXPECT_EQ(h.days.at(day - 1)[3], 1);
  EXPECT_EQ(h.days.at(day - 1)[8], 1);
  ASSERT_EQ(h.days.count(day), 1u);
  EXPECT_EQ(h.days.at(day)[3], 1);
  EXPECT_EQ(h.days.at(day)[8], 1);
  std::optional<PackedAggregate> packed = UnpackAggregate(raw[agg::kPackedCounts]);
  ASSERT_TRUE(packed.has_value());
  EXPECT_EQ(packed->current_day, day);
  EXPECT_EQ(packed->applied, 1);
}

}  // namespace testing
}  // namespace uhc
