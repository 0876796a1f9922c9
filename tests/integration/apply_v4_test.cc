// uhc_apply_v4 (the Lua function) and uhc.apply_v4 (the module, common/domain/timeline.h): the
// apply of participants' timelines (issue #26). The two give byte-equal replies and data on
// random calls; and, each on its own, random participant histories delivered in order, shuffled,
// reversed, or resent in random batches, their relocations' follow-ups sent in later calls in
// random order, give every region's figures of every day exactly as the reference fold of each
// participant's events (tests/support/timeline_model.h).
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "common/domain/timeline.h"
#include "common/redis/history.h"
#include "common/redis/schema.h"
#include "enrollment-svc/event_applier.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/timeline_model.h"

namespace uhc {
namespace {

using testing::RedisServer;

constexpr int kBuckets = 4;

std::map<std::string, std::map<std::string, std::string>> Keyspace(RedisClient& redis) {
  std::map<std::string, std::map<std::string, std::string>> out;
  auto keys = redis.Command({"KEYS", "*"});
  EXPECT_TRUE(keys.ok());
  if (!keys.ok()) return out;
  for (size_t k = 0; k < (*keys)->elements; ++k) {
    const std::string key((*keys)->element[k]->str, (*keys)->element[k]->len);
    auto all = redis.Command({"HGETALL", key});
    EXPECT_TRUE(all.ok());
    std::map<std::string, std::string>& fields = out[key];
    for (size_t f = 0; all.ok() && f + 1 < (*all)->elements; f += 2) {
      fields[std::string((*all)->element[f]->str, (*all)->element[f]->len)] =
          std::string((*all)->element[f + 1]->str, (*all)->element[f + 1]->len);
    }
  }
  return out;
}

std::string FieldOf(int participant) {
  std::string field(8, '\0');
  for (int b = 0; b < 4; ++b)
    field[static_cast<size_t>(b)] = static_cast<char>(participant >> (8 * b));
  field[7] = 'p';
  return field;
}

// One uhc_apply_v4 call under construction.
struct CallV4 {
  std::vector<std::string> keys;
  absl::flat_hash_map<std::string, uint16_t> index;
  std::string events;
  std::string destinations;
  std::map<std::string, uint32_t> destination_index;
  std::vector<std::string> fields;  // each event's participant field
  uint64_t fold_before = 0;

  uint16_t Index(const std::string& key, const std::string& days = "") {
    auto [it, inserted] = index.emplace(key, static_cast<uint16_t>(keys.size() + 1));
    if (inserted) {
      keys.push_back(key);
      if (!days.empty()) keys.push_back(days);
    }
    return it->second;
  }
  void Add(uint8_t op, const std::string& region, const std::string& field, uint64_t ms,
           uint32_t id_hash, uint8_t arg, uint32_t version = 0, const std::string& to = "") {
    const uint16_t agg = Index(AggregateKey(region), DaysKey(region));
    const uint16_t bucket = Index(BucketKey(region, static_cast<uint8_t>(field[0]) % kBuckets));
    uint32_t extra = version;
    if (op == apply_abi::kLeave) {
      auto [it, inserted] =
          destination_index.emplace(to, static_cast<uint32_t>(destination_index.size() + 1));
      if (inserted) destinations += std::string(1, static_cast<char>(to.size())) + to;
      extra = it->second;
    }
    events += apply_abi::EncodeEventArgV4(op, agg, bucket, field, ms, id_hash, arg, extra);
    fields.push_back(field);
  }
  size_t size() const { return fields.size(); }
  RedisArgv Command(bool module) const {
    RedisArgv cmd;
    if (module) {
      cmd.push_back(apply_abi::kApplyCommandV4);
    } else {
      cmd.push_back("FCALL");
      cmd.push_back(apply_abi::kApplyFunctionV4);
    }
    numkeys_text = std::to_string(keys.size());  // RedisArgv holds views: kept here
    fold_text = std::to_string(fold_before);
    cmd.push_back(numkeys_text);
    for (const std::string& k : keys) cmd.push_back(k);
    cmd.push_back(events);
    cmd.push_back(destinations);
    cmd.push_back(fold_text);
    return cmd;
  }
  mutable std::string numkeys_text, fold_text;
};

// An ENTER to send: a follow-up of a reply.
struct Enter {
  std::string field, to;
  uint64_t ms;
  uint32_t id;
  uint8_t carried;
  uint32_t version;
};

// The follow-ups after the `n` result bytes of a reply.
std::vector<Enter> FollowUps(const std::string& reply, const CallV4& call) {
  std::vector<Enter> out;
  const auto big = [&](size_t at, int bytes) {
    uint64_t v = 0;
    for (int b = 0; b < bytes; ++b)
      v = v << 8 | static_cast<uint8_t>(reply[at + static_cast<size_t>(b)]);
    return v;
  };
  for (size_t p = call.size(); p < reply.size();) {
    EXPECT_LE(p + 20, reply.size());
    if (p + 20 > reply.size()) break;
    Enter e;
    e.field = call.fields.at(big(p, 4));
    e.ms = big(p + 4, 6);
    e.id = static_cast<uint32_t>(big(p + 10, 4));
    e.carried = static_cast<uint8_t>(reply[p + 14]);
    e.version = static_cast<uint32_t>(big(p + 15, 4));
    const size_t l = static_cast<uint8_t>(reply[p + 19]);
    e.to = reply.substr(p + 20, l);
    p += 20 + l;
    out.push_back(e);
  }
  return out;
}

class ApplyV4Test : public ::testing::Test {
 protected:
  void SetUp() override {
    for (RedisServer* server : {&lua_server_, &module_server_}) {
      RedisOptions options = server->options();
      options.function_libraries = {kUhcApplyV3Lua};
      options.command_timeout = absl::Seconds(60);  // the ASan module on a busy machine
      clients_.push_back(MakeRedisClient(options));
      ASSERT_TRUE(clients_.back()->LoadFunctionLibraries().ok());
    }
  }

  // Applies `events` through one engine, in calls of 1-`batch` events, with the follow-ups the
  // replies name sent in later calls, in random order; returns false on a failed call.
  bool Deliver(RedisClient& redis, bool module, const std::vector<testing::Event>& events,
               std::mt19937_64& rng, int batch, uint64_t fold_before = 0) {
    std::vector<Enter> pool;
    size_t next = 0;
    while (next < events.size() || !pool.empty()) {
      CallV4 call;
      call.fold_before = fold_before;
      const size_t size = 1 + rng() % static_cast<uint64_t>(batch);
      while (call.size() < size && (next < events.size() || !pool.empty())) {
        if (!pool.empty() && (next == events.size() || rng() % 3 == 0)) {
          const size_t k = rng() % pool.size();
          const Enter e = pool[k];
          pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(k));
          call.Add(apply_abi::kEnter, e.to, e.field, e.ms, e.id, e.carried, e.version);
          continue;
        }
        const testing::Event& e = events[next++];
        call.Add(e.op, e.region, FieldOf(e.participant), e.ts, e.id, e.arg, 0, e.to);
      }
      auto reply = redis.Command(call.Command(module));
      if (!reply.ok() || (*reply)->type != REDIS_REPLY_STRING) {
        ADD_FAILURE() << (reply.ok() ? std::string((*reply)->str, (*reply)->len)
                                     : reply.status().ToString());
        return false;
      }
      const std::string bytes((*reply)->str, (*reply)->len);
      for (size_t i = 0; i < call.size(); ++i) {
        const int outcome = apply_abi::Outcome(static_cast<uint8_t>(bytes[i]));
        if (outcome != apply_abi::kApplied && outcome != apply_abi::kDuplicate) {
          ADD_FAILURE() << "outcome " << outcome;
          return false;
        }
      }
      for (const Enter& e : FollowUps(bytes, call)) pool.push_back(e);
    }
    return true;
  }

  // Every region's figures at the end of every day from `first` to `last`, read from Redis, as
  // changes by day (the form of the reference).
  testing::DayFigures Read(RedisClient& redis, int64_t first, int64_t last) {
    testing::DayFigures out;
    auto histories = ReadHistories(redis, regions_);
    EXPECT_TRUE(histories.ok());
    if (!histories.ok()) return out;
    for (const std::string& region : regions_) {
      std::vector<absl::CivilDay> days;
      for (int64_t d = first; d <= last; ++d) days.push_back(CivilDayOf(d));
      const std::vector<RegionCounts> counts = histories->at(region).OnEach(days);
      testing::Slots before{};
      for (size_t k = 0; k < days.size(); ++k) {
        testing::Slots now{};
        for (int s = 1; s <= 5; ++s) {
          now[static_cast<size_t>(s)] = counts[k].participants[static_cast<size_t>(s)];
          now[static_cast<size_t>(5 + s)] = counts[k].active[static_cast<size_t>(s)];
        }
        testing::Slots change{};
        for (size_t s = 1; s <= 10; ++s) change[s] = now[s] - before[s];
        out[{region, first + static_cast<int64_t>(k)}] = change;
        before = now;
      }
    }
    return testing::NonZero(out);
  }

  const std::vector<std::string> regions_ = {"11.01", "11.02", "12.03", "31.71"};
  RedisServer lua_server_{testing::WithApplyModule()}, module_server_{testing::WithApplyModule()};
  std::vector<std::unique_ptr<RedisClient>> clients_;  // lua_server_'s, module_server_'s
};

TEST_F(ApplyV4Test, AnyArrivalOrderGivesTheFoldOnBothEngines) {
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    std::mt19937_64 rng(seed);
    const std::vector<testing::Event> events = testing::History(rng, 300, 730);
    const testing::DayFigures expected = testing::Reference(events);
    int64_t first = INT64_MAX, last = 0;
    for (const auto& [key, slots] : expected) {
      first = std::min(first, key.second);
      last = std::max(last, key.second);
    }
    std::vector<testing::Event> in_order = events;
    std::sort(in_order.begin(), in_order.end(), [](const auto& a, const auto& b) {
      return std::tie(a.ts, a.id) < std::tie(b.ts, b.id);
    });
    std::vector<testing::Event> shuffled = events;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    std::vector<testing::Event> reversed(in_order.rbegin(), in_order.rend());
    std::vector<testing::Event> resent = shuffled;
    for (size_t k = 0; k < events.size() / 4; ++k) resent.push_back(events[rng() % events.size()]);
    std::shuffle(resent.begin(), resent.end(), rng);
    const std::vector<std::pair<const char*, const std::vector<testing::Event>*>> orders = {
        {"in order", &in_order},
        {"shuffled", &shuffled},
        {"reversed", &reversed},
        {"resent", &resent}};
    for (bool module : {false, true}) {
      RedisClient& redis = *clients_[module ? 1 : 0];
      for (const auto& [name, order] : orders) {
        ASSERT_TRUE(redis.Command({"FLUSHALL"}).ok());
        ASSERT_TRUE(Deliver(redis, module, *order, rng, 60));
        EXPECT_EQ(testing::FirstDifference(Read(redis, first, last), expected), "")
            << name << (module ? ", module" : ", function") << ", seed " << seed;
      }
    }
  }
}

// Timelines fold what is before the window into their base state (the events before it
// delivered first, then the later ones, shuffled, with the window's first instant as the fold
// point): every day's figures stay the reference's, and timelines were folded.
TEST_F(ApplyV4Test, FoldingBeforeTheWindowChangesNoFigure) {
  std::mt19937_64 rng(5);
  const std::vector<testing::Event> events = testing::History(rng, 300, 730);
  const testing::DayFigures expected = testing::Reference(events);
  const uint64_t window = testing::kModel2025 + 365 * testing::kModelDayMs;
  std::vector<testing::Event> before, after;
  for (const testing::Event& e : events) (e.ts < window ? before : after).push_back(e);
  ASSERT_FALSE(before.empty());
  ASSERT_FALSE(after.empty());
  std::shuffle(before.begin(), before.end(), rng);
  std::shuffle(after.begin(), after.end(), rng);
  int64_t first = INT64_MAX, last = 0;
  for (const auto& [key, slots] : expected) {
    first = std::min(first, key.second);
    last = std::max(last, key.second);
  }
  for (bool module : {false, true}) {
    RedisClient& redis = *clients_[module ? 1 : 0];
    ASSERT_TRUE(Deliver(redis, module, before, rng, 60));
    ASSERT_TRUE(Deliver(redis, module, after, rng, 60, window));
    EXPECT_EQ(testing::FirstDifference(Read(redis, first, last), expected), "")
        << (module ? "module" : "function");
    int folded = 0;
    for (const auto& [key, fields] : Keyspace(redis)) {
      if (key.find(":p:") == std::string::npos) continue;
      for (const auto& [field, value] : fields) {
        if (!value.empty() && (static_cast<uint8_t>(value[0]) & 0x80)) ++folded;
      }
    }
    EXPECT_GT(folded, 10) << (module ? "module" : "function");
  }
}

// Random calls: every operation, PRIO_DECIDES, duplicates, late events, ENTERs of any version
// and carried state, records uhc_apply_v3 left, timelines of the first release (ENTERs of op 5);
// replies and data byte-equal.
TEST_F(ApplyV4Test, BothEnginesGiveTheSameRepliesAndData) {
  std::mt19937_64 rng(11);
  const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const uint64_t start = testing::kModel2025;
  // Records as uhc_apply_v3 wrote them: live and tombstones.
  for (int p = 0; p < 30; ++p) {
    const std::string region = regions_[static_cast<size_t>(p % 4)];
    const std::string field = FieldOf(p);
    const std::string key = BucketKey(region, static_cast<uint8_t>(field[0]) % kBuckets);
    ParticipantRecord record;
    record.segment = 1 + p % 5;
    record.active = p % 2 == 0;
    record.kind = p % 7 == 0 ? RecordKind::kTerminated : RecordKind::kEnrolled;
    record.occurred_at_ms = start + static_cast<uint64_t>(p) * 3'600'000;
    record.event_id_hash = static_cast<uint32_t>(p);
    for (auto& client : clients_) {
      ASSERT_TRUE(client->Command({"HSET", key, field, EncodeRecord(record)}).ok());
    }
  }
  // Timelines as the first release of them wrote them: an ENTER with op 5 and its version only.
  for (int p = 30; p < 40; ++p) {
    const std::string region = regions_[static_cast<size_t>(p % 4)];
    const std::string field = FieldOf(p);
    const std::string key = BucketKey(region, static_cast<uint8_t>(field[0]) % kBuckets);
    timeline::Timeline t;
    t.entries.push_back({start + static_cast<uint64_t>(p) * 3'600'000,
                         7,
                         timeline::kEnter,
                         static_cast<uint8_t>(1 + p % 5),
                         static_cast<uint32_t>(p),
                         {}});
    t.entries.push_back({start + static_cast<uint64_t>(p) * 7'200'000, 8, timeline::kLeave, 0, 0,
                         regions_[static_cast<size_t>((p + 1) % 4)]});
    std::string value = timeline::Encode(t);
    value[11] = static_cast<char>(timeline::kEnter << 4 | (1 + p % 5));  // op 5
    value.erase(13, 1);                                                  // and no upgrades
    ASSERT_EQ(timeline::Decode(value)->entries[0].upgrades, static_cast<uint32_t>(p));
    for (auto& client : clients_) ASSERT_TRUE(client->Command({"HSET", key, field, value}).ok());
  }
  std::vector<std::pair<uint64_t, uint32_t>> seen;
  for (int c = 0; c < 80; ++c) {
    CallV4 call;
    const int n = 1 + pick(c % 5 == 0 ? 3 : 200);
    for (int i = 0; i < n; ++i) {
      const std::string field = FieldOf(pick(60));
      const std::string& region = regions_[static_cast<size_t>(pick(4))];
      uint64_t ms = start + static_cast<uint64_t>(pick(60)) * testing::kModelDayMs / 3 +
                    static_cast<uint64_t>(pick(3));
      uint32_t id = static_cast<uint32_t>(pick(4));
      if (!seen.empty() && pick(8) == 0)
        std::tie(ms, id) = seen[static_cast<size_t>(pick(static_cast<int>(seen.size())))];
      seen.emplace_back(ms, id);
      const auto flags = static_cast<uint8_t>(1 + pick(5) + 8 * pick(2));
      switch (pick(6)) {
        case 0:
          call.Add(apply_abi::kEnroll, region, field, ms, id,
                   pick(3) == 0 ? flags | apply_abi::kPrioDecides : flags);
          break;
        case 1:
          call.Add(apply_abi::kStatus, region, field, ms, id, static_cast<uint8_t>(pick(2)));
          break;
        case 2:
          call.Add(apply_abi::kSegment, region, field, ms, id, static_cast<uint8_t>(1 + pick(5)));
          break;
        case 3:
          call.Add(apply_abi::kLeave, region, field, ms, id, 0, 0,
                   regions_[static_cast<size_t>(pick(4))]);
          break;
        case 4:
          call.Add(apply_abi::kEnter, region, field, ms, id, pick(4) == 0 ? 0 : flags,
                   static_cast<uint32_t>(pick(6)));
          break;
        default:
          call.Add(apply_abi::kTerminate, region, field, ms, id, 0);
      }
    }
    if (c % 4 == 0) {  // timelines fold their entries before a point
      call.fold_before = start + static_cast<uint64_t>(pick(20)) * testing::kModelDayMs;
    }
    if (c % 9 == 0) {  // a region now holds UHC Prioritas
      for (auto& client : clients_) {
        ASSERT_TRUE(client
                        ->Command({"HSET", AggregateKey(regions_[static_cast<size_t>(c % 4)]),
                                   "prio", c % 2 ? "1" : "0"})
                        .ok());
      }
    }
    auto lua = clients_[0]->Command(call.Command(false));
    auto module = clients_[1]->Command(call.Command(true));
    ASSERT_TRUE(lua.ok() && module.ok());
    ASSERT_EQ((*lua)->type, REDIS_REPLY_STRING) << std::string((*lua)->str, (*lua)->len);
    ASSERT_EQ((*module)->type, REDIS_REPLY_STRING) << std::string((*module)->str, (*module)->len);
    ASSERT_EQ(std::string((*module)->str, (*module)->len), std::string((*lua)->str, (*lua)->len))
        << "call " << c;
  }
  const auto expected = Keyspace(*clients_[0]);
  EXPECT_GT(expected.size(), 8u);
  const auto actual = Keyspace(*clients_[1]);
  for (const auto& [key, fields] : expected) {
    for (const auto& [field, value] : fields) {
      auto k = actual.find(key);
      std::string other =
          k == actual.end() || !k->second.count(field) ? "<none>" : k->second.at(field);
      if (other != value) {
        std::string a, b;
        for (unsigned char ch : value) a += absl::StrFormat("%02x", ch);
        for (unsigned char ch : other) b += absl::StrFormat("%02x", ch);
        ADD_FAILURE() << key << " field " << field.size() << ": function " << a << " module " << b;
      }
    }
  }
  EXPECT_TRUE(actual == expected) << "the keyspaces differ (fields above)";
}

// A call that meets a malformed stored value, or is malformed itself, changes nothing, on both
// engines.
TEST_F(ApplyV4Test, ACallThatFailsChangesNothingOnEitherEngine) {
  const std::string region = "31.71";
  for (bool module : {false, true}) {
    RedisClient& redis = *clients_[module ? 1 : 0];
    CallV4 good;
    for (int p = 0; p < 20; ++p)
      good.Add(apply_abi::kEnroll, region, FieldOf(p),
               testing::kModel2025 + static_cast<uint64_t>(p), 1, 9);
    ASSERT_TRUE(redis.Command(good.Command(module)).ok());
    const std::string bad_field = FieldOf(100);
    const std::string bad_key = BucketKey(region, static_cast<uint8_t>(bad_field[0]) % kBuckets);
    for (const std::string& bad : {std::string("\x01\x02"), std::string(12, '\x7f'),
                                   std::string("\x00", 1) + std::string(11, '\x00')}) {
      ASSERT_TRUE(redis.Command({"HSET", bad_key, bad_field, bad}).ok());
      const auto before = Keyspace(redis);
      CallV4 call;
      for (int p = 0; p < 20; ++p) {
        call.Add(apply_abi::kStatus, region, FieldOf(p), testing::kModel2025 - testing::kModelDayMs,
                 2, 0);
      }
      call.Add(apply_abi::kStatus, region, bad_field, testing::kModel2025, 3, 1);
      auto reply = redis.Command(call.Command(module));
      ASSERT_TRUE(reply.ok());
      EXPECT_EQ((*reply)->type, REDIS_REPLY_ERROR) << (module ? "module" : "function");
      EXPECT_EQ(Keyspace(redis), before);
    }
    // A malformed call: a LEAVE whose destination is not given.
    const auto before = Keyspace(redis);
    CallV4 call;
    call.Add(apply_abi::kStatus, region, FieldOf(1), testing::kModel2025 + 5, 9, 0);
    call.Add(apply_abi::kLeave, region, FieldOf(2), testing::kModel2025 + 5, 9, 0, 0, "12.03");
    call.destinations.clear();
    auto reply = redis.Command(call.Command(module));
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ((*reply)->type, REDIS_REPLY_ERROR);
    EXPECT_EQ(Keyspace(redis), before);
  }
}

}  // namespace
}  // namespace uhc
