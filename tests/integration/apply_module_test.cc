// uhc.apply_v3 (uhc_module.so, enrollment-svc/module/) against uhc_apply_v3 (the Lua function it
// implements): the same random calls go to two Redis servers, one through each; every result
// byte and, at the end, every key and field must be the same. The calls mix every operation,
// duplicates and stale events, relocations in and across calls, events of several days (late
// ones and days that end), and aggregates left in layouts 1 and 2 by earlier releases, migrated.
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/redis/history.h"
#include "common/redis/schema.h"
#include "enrollment-svc/event_applier.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"

namespace uhc {
namespace {

using testing::RedisServer;
using testing::WaitFor;

const std::vector<std::string> kRegions = {"11.01", "11.02", "12.19", "31.71"};
constexpr int kBuckets = 4;
constexpr uint64_t kDayMs = 86400000;
constexpr uint64_t kStartMs = 1764547200000;  // 2025-12-01 00:00 UTC

// Every key of a server: its type and, for hashes, its fields.
std::map<std::string, std::map<std::string, std::string>> Keyspace(RedisClient& redis) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string cursor = "0";
  do {
    auto scan = redis.Command({"SCAN", cursor, "COUNT", "1000"});
    EXPECT_TRUE(scan.ok());
    if (!scan.ok()) return out;
    cursor.assign((*scan)->element[0]->str, (*scan)->element[0]->len);
    const redisReply* keys = (*scan)->element[1];
    for (size_t k = 0; k < keys->elements; ++k) {
      const std::string key(keys->element[k]->str, keys->element[k]->len);
      auto all = redis.Command({"HGETALL", key});
      EXPECT_TRUE(all.ok());
      std::map<std::string, std::string>& fields = out[key];
      for (size_t f = 0; all.ok() && f + 1 < (*all)->elements; f += 2) {
        fields[std::string((*all)->element[f]->str, (*all)->element[f]->len)] =
            std::string((*all)->element[f + 1]->str, (*all)->element[f + 1]->len);
      }
    }
  } while (cursor != "0");
  return out;
}

std::string Int32s(const std::vector<int32_t>& values) {
  std::string out;
  for (int32_t v : values) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((static_cast<uint32_t>(v) >> shift) & 0xff));
    }
  }
  return out;
}

// One call under construction: keys as enrollment-svc orders them (an aggregate, then its day
// hash), the events packed.
struct RawCall {
  std::vector<std::string> keys;
  absl::flat_hash_map<std::string, uint16_t> index;
  std::string events;

  uint16_t Index(const std::string& key, const std::string& days = "") {
    auto [it, inserted] = index.emplace(key, static_cast<uint16_t>(keys.size() + 1));
    if (inserted) {
      keys.push_back(key);
      if (!days.empty()) keys.push_back(days);
    }
    return it->second;
  }
  void Add(uint8_t op, const std::string& region, const std::string& field, uint64_t ms,
           uint32_t id_hash, uint8_t arg) {
    const uint16_t agg = Index(AggregateKey(region), DaysKey(region));
    const uint16_t bucket = Index(BucketKey(region, static_cast<uint8_t>(field[0]) % kBuckets));
    events += apply_abi::EncodeEventArg(op, agg, bucket, field, ms, id_hash, arg);
  }
  RedisArgv Command(bool module) const {
    return ApplyArgv(module, std::to_string(keys.size()), keys, events);
  }

  // The command through the module or the function, with any numkeys, keys and events.
  static RedisArgv ApplyArgv(bool module, const std::string& numkeys,
                             const std::vector<std::string>& keys, const std::string& events) {
    RedisArgv cmd;
    if (module) {
      cmd.push_back(apply_abi::kApplyCommand);
    } else {
      cmd.push_back("FCALL");
      cmd.push_back(apply_abi::kApplyFunction);
    }
    cmd.push_back(numkeys);
    for (const std::string& k : keys) cmd.push_back(k);
    cmd.push_back(events);
    return cmd;
  }
};

class ApplyModuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (RedisServer* server : {&lua_server_, &module_server_}) {
      RedisOptions options = server->options();
      options.function_libraries = {kUhcApplyV3Lua};
      // Calls of thousands of events take seconds in the ASan module on a busy machine (CI: the
      // 8,000-day call passed the default 2 s); this test checks results, not speed.
      options.command_timeout = absl::Seconds(60);
      clients_.push_back(MakeRedisClient(options));
      ASSERT_TRUE(clients_.back()->LoadFunctionLibraries().ok());
    }
  }

  // The same command on both servers.
  void Both(const RedisArgv& command) {
    for (auto& client : clients_) ASSERT_TRUE(client->Command(command).ok());
  }

  // Aggregates as earlier releases left them: layout 1 (named fields), layout 2 (40-byte `c`
  // with `last`, `t`, `e`), settings only, nothing; then moved to layout 3 by the migration
  // enrollment-svc runs at start (uhc_migrate_layout_v3), as the applies need.
  void SeedOldLayouts() {
    Both({"HSET", AggregateKey("11.01"), "n1", "5", "n3", "2", "a1", "3", "part", "7", "act", "3",
          "ver", "9", "last", "1764500000000", "pop", "1000"});
    Both({"HSET", AggregateKey("11.02"), "c", Int32s({4, 0, 1, 0, 0, 2, 0, 1, 0, 0}), "last",
          "1764540000000", "t", "20422", "e", Int32s({1, 0, 0, 0, 0, 1, 0, 0, 0, 0}), "ver", "3"});
    Both({"HSET", AggregateKey("12.19"), "pop", "250000", "pop_asof", "2025-06-30", "prio", "1"});
    for (const char* region : {"11.01", "11.02", "12.19"}) {
      const std::string key = AggregateKey(region);
      Both({"FCALL", apply_abi::kMigrateLayoutFunction, "1", key});
    }
  }

  RedisServer lua_server_{testing::WithApplyModule()}, module_server_{testing::WithApplyModule()};
  std::vector<std::unique_ptr<RedisClient>> clients_;  // lua_server_'s, module_server_'s
};

// Random valid calls: every operation, duplicates and stale events, relocations, several days.
class CallGenerator {
 public:
  explicit CallGenerator(uint32_t seed) : random_(seed) {
    for (int p = 0; p < 80; ++p) {
      std::string field(8, '\0');
      for (char& c : field) c = static_cast<char>(pick(4) == 0 ? 0 : pick(256));  // NULs too
      fields_.push_back(field);
    }
  }
  int pick(int n) { return static_cast<int>(random_() % static_cast<uint32_t>(n)); }
  RawCall Next(int c);

 private:
  std::mt19937 random_;
  std::vector<std::string> fields_;
  std::map<std::string, std::pair<uint64_t, uint32_t>> last_event_;  // per field: a duplicate
  uint64_t now_ = kStartMs;
};

RawCall CallGenerator::Next(int c) {
  now_ += static_cast<uint64_t>(pick(5)) * kDayMs / 3;  // days start and end across calls
  RawCall call;
  const int n = 1 + pick(c % 7 == 0 ? 3 : 250);
  for (int i = 0; i < n; ++i) {
    const std::string& field = fields_[static_cast<size_t>(pick(static_cast<int>(fields_.size())))];
    const std::string& region = kRegions[static_cast<size_t>(pick(4))];
    uint64_t ms =
        now_ - static_cast<uint64_t>(pick(4)) * kDayMs / 2 + static_cast<uint64_t>(pick(1000));
    uint32_t id = static_cast<uint32_t>(pick(3));  // ties on time, ordered by id hash
    if (pick(10) == 0 && last_event_.count(field)) std::tie(ms, id) = last_event_[field];
    last_event_[field] = {ms, id};
    const uint8_t flags = static_cast<uint8_t>(1 + pick(5) + 8 * pick(2));
    switch (pick(7)) {
      case 0:
      case 1:  // a third of them active as the region's UHC Prioritas status says
        call.Add(apply_abi::kEnroll, region, field, ms, id,
                 pick(3) == 0 ? flags | apply_abi::kPrioDecides : flags);
        break;
      case 2:
        call.Add(apply_abi::kStatus, region, field, ms, id, static_cast<uint8_t>(pick(2)));
        break;
      case 3:
        call.Add(apply_abi::kSegment, region, field, ms, id, static_cast<uint8_t>(1 + pick(5)));
        break;
      case 4: {  // a relocation, its ENTER in this call (or, as a later call would, with flags)
        call.Add(apply_abi::kLeave, region, field, ms, id, 0);
        const std::string& to = kRegions[(static_cast<size_t>(pick(3)) + 1 +
                                          static_cast<size_t>(&region - &kRegions[0])) %
                                         kRegions.size()];
        call.Add(apply_abi::kEnter, to, field, ms, id,
                 pick(3) == 0 ? flags : apply_abi::kEnterFromLeave);
        break;
      }
      case 5:  // an ENTER whose LEAVE did not move anything (or was in no call)
        call.Add(apply_abi::kEnter, region, field, ms, id, apply_abi::kEnterFromLeave);
        break;
      default:
        call.Add(apply_abi::kTerminate, region, field, ms, id, 0);
    }
  }
  return call;
}

// Random calls through both; every reply must match.
void RunRandomCalls(uint32_t seed, int calls, RedisClient& lua, RedisClient& module) {
  CallGenerator generator(seed);
  for (int c = 0; c < calls; ++c) {
    const RawCall call = generator.Next(c);
    auto expected = lua.Command(call.Command(false));
    auto actual = module.Command(call.Command(true));
    ASSERT_TRUE(expected.ok() && actual.ok());
    ASSERT_EQ((*expected)->type, REDIS_REPLY_STRING)
        << std::string((*expected)->str, (*expected)->len);
    ASSERT_EQ((*actual)->type, REDIS_REPLY_STRING) << std::string((*actual)->str, (*actual)->len);
    ASSERT_EQ(std::string((*actual)->str, (*actual)->len),
              std::string((*expected)->str, (*expected)->len))
        << "call " << c << " of seed " << seed;
  }
}

TEST_F(ApplyModuleTest, SameResultsAndSameDataAsTheFunction) {
  SeedOldLayouts();
  for (uint32_t seed : {1u, 2u, 3u}) RunRandomCalls(seed, 60, *clients_[0], *clients_[1]);
  const auto expected = Keyspace(*clients_[0]);
  EXPECT_GT(expected.size(), kRegions.size() * 2);
  EXPECT_EQ(Keyspace(*clients_[1]), expected);
  // The old layouts are in layout 3.
  EXPECT_EQ(expected.at(AggregateKey("11.01")).count("n1"), 0u);
  EXPECT_EQ(expected.at(AggregateKey("11.02")).at("c").size(), 96u);
}

// Replicas get the module's writes as plain HSET and HDEL, so one without the module (a Redis
// from Debian's package, as the previous release ran) keeps up.
TEST_F(ApplyModuleTest, AReplicaWithoutTheModuleEndsWithTheSameData) {
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(module_server_.port())});
  auto replica_client = MakeRedisClient(replica.options());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto info = replica_client->Command({"INFO", "replication"});
        return info.ok() && std::string((*info)->str, (*info)->len).find("master_link_status:up") !=
                                std::string::npos;
      },
      10000));
  SeedOldLayouts();
  RunRandomCalls(7, 40, *clients_[0], *clients_[1]);
  auto acked = clients_[1]->Command({"WAIT", "1", "10000"});
  ASSERT_TRUE(acked.ok());
  ASSERT_EQ((*acked)->integer, 1);
  EXPECT_EQ(Keyspace(*replica_client), Keyspace(*clients_[1]));
}

TEST_F(ApplyModuleTest, AMalformedCallChangesNothing) {
  SeedOldLayouts();
  const auto before = Keyspace(*clients_[1]);
  const std::string field = "\x01\x02\x03\x04\x05\x06\x07\x08";
  struct Case {
    const char* what;
    uint8_t op, arg;
    uint16_t agg, bucket;
  };
  for (const Case& c : {Case{"unknown operation", 9, 0, 1, 3},
                        Case{"status other than 0/1", apply_abi::kStatus, 2, 1, 3},
                        Case{"segment 0", apply_abi::kSegment, 0, 1, 3},
                        Case{"enrolment without a segment", apply_abi::kEnroll, 8, 1, 3},
                        Case{"aggregate index past KEYS", apply_abi::kEnroll, 1, 3, 3},
                        Case{"bucket index 0", apply_abi::kEnroll, 1, 1, 0}}) {
    // A good event first: it must not be applied either.
    const std::string events =
        apply_abi::EncodeEventArg(apply_abi::kEnroll, 1, 3, field, kStartMs, 1, 1) +
        apply_abi::EncodeEventArg(c.op, c.agg, c.bucket, field, kStartMs + 1, 2, c.arg);
    auto reply = clients_[1]->Command({apply_abi::kApplyCommand, "3", AggregateKey("31.71"),
                                       DaysKey("31.71"), BucketKey("31.71", 0), events});
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ((*reply)->type, REDIS_REPLY_ERROR) << c.what;
  }
  for (const RedisArgv& bad :
       {RedisArgv{apply_abi::kApplyCommand, "2", "k", "short"},
        RedisArgv{apply_abi::kApplyCommand, "3", AggregateKey("31.71"), DaysKey("31.71"),
                  AggregateKey("31.71"),
                  apply_abi::EncodeEventArg(apply_abi::kEnroll, 1, 3, field, kStartMs, 1, 1)},
        RedisArgv{apply_abi::kApplyCommand, "x", "k", ""},
        RedisArgv{apply_abi::kApplyCommand, "1", "k", "12345"}}) {
    auto reply = clients_[1]->Command(bad);
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ((*reply)->type, REDIS_REPLY_ERROR) << bad[3];
  }
  ASSERT_TRUE(clients_[1]->Command({"SET", "not-a-hash", "x"}).ok());
  auto wrong_type = clients_[1]->Command(
      {apply_abi::kApplyCommand, "3", AggregateKey("31.71"), DaysKey("31.71"), "not-a-hash",
       apply_abi::EncodeEventArg(apply_abi::kEnroll, 1, 3, field, kStartMs, 1, 1)});
  ASSERT_TRUE(wrong_type.ok());
  EXPECT_EQ((*wrong_type)->type, REDIS_REPLY_ERROR);
  ASSERT_TRUE(clients_[1]->Command({"DEL", "not-a-hash"}).ok());
  EXPECT_EQ(Keyspace(*clients_[1]), before);
}

// Keys a call only reads stay unmodified for WATCH, and written keys publish their keyspace
// events, as with the function: each call (and the same call again, now all duplicates, which
// writes nothing) runs between WATCH and EXEC of every key it names on a second connection, and
// the two servers' EXEC results and keyspace events must be equal.
TEST_F(ApplyModuleTest, WatchAndKeyspaceEventsAsWithTheFunction) {
  SeedOldLayouts();
  Both({"CONFIG", "SET", "notify-keyspace-events", "Kh"});
  std::vector<redisContext*> subscribers;
  for (RedisServer* server : {&lua_server_, &module_server_}) {
    subscribers.push_back(redisConnect("127.0.0.1", server->port()));
    ASSERT_TRUE(subscribers.back() && !subscribers.back()->err);
    freeReplyObject(redisCommand(subscribers.back(), "PSUBSCRIBE __keyspace@0__:*"));
  }
  std::vector<std::unique_ptr<RedisClient>> watchers;
  for (RedisServer* server : {&lua_server_, &module_server_}) {
    watchers.push_back(MakeRedisClient(server->options()));
  }
  CallGenerator generator(5);
  int unchanged = 0;
  for (int c = 0; c < 40; ++c) {
    const RawCall call = generator.Next(c);
    for (int again = 0; again < 2; ++again) {
      std::vector<bool> aborted;
      for (size_t s = 0; s < 2; ++s) {
        RedisArgv watch = {"WATCH"};
        watch.insert(watch.end(), call.keys.begin(), call.keys.end());
        ASSERT_TRUE(watchers[s]->Command(watch).ok());
        ASSERT_TRUE(watchers[s]->Command({"MULTI"}).ok());
        ASSERT_TRUE(watchers[s]->Command({"PING"}).ok());
        auto applied = clients_[s]->Command(call.Command(s == 1));
        ASSERT_TRUE(applied.ok() && (*applied)->type == REDIS_REPLY_STRING);
        auto exec = watchers[s]->Command({"EXEC"});
        ASSERT_TRUE(exec.ok());
        aborted.push_back((*exec)->type == REDIS_REPLY_NIL);
      }
      EXPECT_EQ(aborted[1], aborted[0]) << "call " << c << (again ? ", again" : "");
      unchanged += aborted[0] ? 0 : 1;
    }
  }
  EXPECT_GE(unchanged, 20);  // the repeated calls, at least
  // Every event each server published, in order, up to a marker.
  std::vector<std::vector<std::string>> events(2);
  for (size_t s = 0; s < 2; ++s) {
    ASSERT_TRUE(clients_[s]->Command({"PUBLISH", "__keyspace@0__:end", "end"}).ok());
    for (;;) {
      void* reply = nullptr;
      ASSERT_EQ(redisGetReply(subscribers[s], &reply), REDIS_OK);
      const auto* message = static_cast<redisReply*>(reply);
      ASSERT_EQ(message->elements, 4u);  // pmessage, pattern, channel, event
      const std::string channel(message->element[2]->str, message->element[2]->len);
      const std::string event(message->element[3]->str, message->element[3]->len);
      freeReplyObject(reply);
      if (event == "end") break;
      events[s].push_back(channel + " " + event);
    }
    redisFree(subscribers[s]);
  }
  EXPECT_GT(events[0].size(), 100u);
  EXPECT_EQ(events[1], events[0]);
}

// Valid calls corrupted at random: bytes of the events overwritten, the events cut short, numkeys
// off by one, a key named twice, replaced by a string key or swapped with another. The module
// refuses each call it cannot apply exactly, changing nothing; each call it accepts, the function
// accepts too, with the same result bytes and, at the end, the same data. Under apply_module_asan
// this is the module's fuzz run, inside Redis.
TEST_F(ApplyModuleTest, CorruptedCallsAreRefusedWholeOrAppliedAsTheFunctionDoes) {
  SeedOldLayouts();
  Both({"SET", "a-string", "x"});
  CallGenerator generator(11);
  int refused = 0, accepted = 0;
  for (int c = 0; c < 400; ++c) {
    const RawCall call = generator.Next(c);
    std::string numkeys = std::to_string(call.keys.size());
    std::vector<std::string> keys = call.keys;
    std::string events = call.events;
    const auto key = [&] {
      return static_cast<size_t>(generator.pick(static_cast<int>(keys.size())));
    };
    switch (c % 7) {
      case 0: {  // one field of one event at an edge: op, a key index, the argument, the time
        const size_t at = apply_abi::kEventArgBytes *
                          static_cast<size_t>(generator.pick(
                              static_cast<int>(events.size() / apply_abi::kEventArgBytes)));
        const int n = static_cast<int>(keys.size());
        const int index = std::vector<int>{0, n - 1, n, n + 1, 65535}[generator.pick(5)];
        switch (generator.pick(4)) {
          case 0:
            events[at] = static_cast<char>(std::vector<int>{0, 7, 255}[generator.pick(3)]);
            break;
          case 1:
          case 2: {  // the aggregate's index at +1, the bucket's at +3
            const size_t field = at + (generator.pick(2) ? 1 : 3);
            events[field] = static_cast<char>(index >> 8);
            events[field + 1] = static_cast<char>(index & 0xff);
            break;
          }
          default:
            events[at + 23] =
                static_cast<char>(std::vector<int>{0, 6, 7, 8, 255}[generator.pick(5)]);
        }
        break;
      }
      case 1:  // one to four bytes anywhere in the events
        for (int k = 0; k <= generator.pick(4); ++k) {
          events[static_cast<size_t>(generator.pick(static_cast<int>(events.size())))] =
              static_cast<char>(generator.pick(256));
        }
        break;
      case 2:
        events.resize(static_cast<size_t>(generator.pick(static_cast<int>(events.size()))));
        break;
      case 3:
        numkeys = std::to_string(static_cast<int>(keys.size()) + (generator.pick(2) ? 1 : -1));
        break;
      case 4:
        keys[key()] = generator.pick(2) ? keys[key()] : "a-string";
        break;
      default:
        std::swap(keys[key()], keys[key()]);
    }
    const auto before = Keyspace(*clients_[1]);
    auto reply = clients_[1]->Command(RawCall::ApplyArgv(true, numkeys, keys, events));
    ASSERT_TRUE(reply.ok()) << "call " << c << ": " << reply.status();  // Redis is still up
    if ((*reply)->type == REDIS_REPLY_ERROR) {
      ++refused;
      ASSERT_EQ(Keyspace(*clients_[1]), before) << "call " << c << ": " << (*reply)->str;
      continue;
    }
    ++accepted;
    ASSERT_EQ((*reply)->type, REDIS_REPLY_STRING);
    auto expected = clients_[0]->Command(RawCall::ApplyArgv(false, numkeys, keys, events));
    ASSERT_TRUE(expected.ok());
    ASSERT_EQ(std::string((*reply)->str, (*reply)->len),
              std::string((*expected)->str, (*expected)->len))
        << "call " << c;
  }
  EXPECT_GT(refused, 100);
  EXPECT_GT(accepted, 50);
  EXPECT_EQ(Keyspace(*clients_[1]), Keyspace(*clients_[0]));
}

// Stored values no release writes (a record of another length or with segment 0, 6 or 7; counts
// shorter than their layout) are an error, never read past or used as an index. Events past the
// year 2148 are refused before anything changes (the function keeps a day in 16 bits).
TEST_F(ApplyModuleTest, AMalformedStoredValueIsAnError) {
  const std::string field = "\x01\x02\x03\x04\x05\x06\x07\x08";
  const std::string region = "31.71";
  const std::string bucket = BucketKey(region, 0);
  RedisClient& redis = *clients_[1];
  const auto apply = [&](uint8_t op, uint64_t ms, uint8_t arg) {
    auto reply =
        redis.Command({apply_abi::kApplyCommand, "3", AggregateKey(region), DaysKey(region), bucket,
                       apply_abi::EncodeEventArg(op, 1, 3, field, ms, 1, arg)});
    EXPECT_TRUE(reply.ok());
    return reply.ok() ? std::string((*reply)->str, (*reply)->len) : std::string();
  };
  const auto stored = [&](const std::string& key, const std::string& name,
                          const std::string& value) {
    ASSERT_TRUE(redis.Command({"DEL", AggregateKey(region), DaysKey(region), bucket}).ok());
    ASSERT_TRUE(redis.Command({"HSET", key, name, value}).ok());
  };
  const std::string later_record = std::string("\x0f") + std::string(10, '\0');  // segment 7
  stored(bucket, field, later_record);
  EXPECT_EQ(apply(apply_abi::kStatus, kStartMs, 0).rfind("ERR", 0), 0u);
  stored(bucket, field, "short");
  EXPECT_EQ(apply(apply_abi::kStatus, kStartMs, 0).rfind("ERR", 0), 0u);
  stored(AggregateKey(region), "c", "ten bytes!");
  EXPECT_EQ(apply(apply_abi::kEnroll, kStartMs, 1).rfind("ERR", 0), 0u);
  stored(AggregateKey(region), "c", std::string(40, '\0'));  // layout 2, not migrated
  EXPECT_EQ(apply(apply_abi::kEnroll, kStartMs, 1).rfind("ERR", 0), 0u);
  stored(AggregateKey(region), "part", "3");  // layout 1, not migrated: refused, not misread
  EXPECT_EQ(apply(apply_abi::kEnroll, kStartMs, 1).rfind("ERR", 0), 0u);
  // A day whose stored change is short, reached by a late event (its day before the current one).
  ASSERT_TRUE(redis.Command({"DEL", AggregateKey(region), DaysKey(region), bucket}).ok());
  ASSERT_EQ(apply(apply_abi::kEnroll, kStartMs + 3 * kDayMs, 1), "\x01");
  ASSERT_TRUE(
      redis.Command({"HSET", DaysKey(region), "d" + std::to_string(kStartMs / kDayMs), "short"})
          .ok());
  EXPECT_EQ(apply(apply_abi::kStatus, kStartMs + 3 * kDayMs + 1, 0), "\x01");  // same day: fine
  const std::string other = "\x09\x02\x03\x04\x05\x06\x07";  // two new participants
  auto late = redis.Command(
      {apply_abi::kApplyCommand, "3", AggregateKey(region), DaysKey(region), bucket,
       apply_abi::EncodeEventArg(apply_abi::kEnroll, 1, 3, other + "2", kStartMs + 3 * kDayMs + 2,
                                 1, 1) +
           apply_abi::EncodeEventArg(apply_abi::kEnroll, 1, 3, other + "3", kStartMs, 2, 1)});
  ASSERT_TRUE(late.ok());
  EXPECT_EQ((*late)->type, REDIS_REPLY_ERROR);
  // The year 2149.
  const auto before = Keyspace(redis);
  EXPECT_EQ(apply(apply_abi::kEnroll, 65536 * kDayMs, 1).rfind("ERR", 0), 0u);
  EXPECT_EQ(Keyspace(redis), before);
}

// A call that fails part way changes nothing, on either engine: Redis keeps what a function wrote
// before an error, so the function puts back the records it wrote, and both read and check every
// aggregate and day before writing any. Each bad call starts with good events (new participants,
// status changes of stored ones) in several buckets and regions, then meets the fault.
TEST_F(ApplyModuleTest, ACallThatFailsInTheMiddleChangesNothingOnEitherEngine) {
  SeedOldLayouts();
  RunRandomCalls(11, 30, *clients_[0], *clients_[1]);
  const std::string region = "31.71", other = "12.19";
  for (bool module : {false, true}) {
    RedisClient& redis = *clients_[module ? 1 : 0];
    const std::string engine = module ? "module" : "function";
    // Good events first: 40 new participants over every bucket of two regions, and a late one.
    const auto good = [&](RawCall& call, uint32_t salt) {
      for (uint32_t i = 0; i < 40; ++i) {
        std::string field = "\x10\x20\x30\x40\x50\x60\x70";
        field.insert(field.begin(), static_cast<char>(i));
        field.push_back(static_cast<char>(salt));
        call.Add(apply_abi::kEnroll, i % 2 ? region : other, field, kStartMs + 40 * kDayMs + i, i,
                 1 + i % 5);
      }
      call.Add(apply_abi::kEnroll, region, std::string("\x03late\x01\x02", 8) + "", kStartMs, 9, 2);
    };
    const auto refused = [&](const RawCall& call, const std::string& what) {
      const auto before = Keyspace(redis);
      auto reply = redis.Command(call.Command(module));
      ASSERT_TRUE(reply.ok());
      EXPECT_EQ((*reply)->type, REDIS_REPLY_ERROR) << engine << ": " << what;
      EXPECT_EQ(Keyspace(redis), before) << engine << ": " << what;
    };
    const std::string field = "\x01\x02\x03\x04\x05\x06\x07\x08";
    {  // a bucket key holding a string, named by an event in the middle
      ASSERT_TRUE(redis.Command({"SET", "uhc:{31.71}:p:string", "x"}).ok());
      RawCall call;
      good(call, 1);
      const uint16_t agg = call.Index(AggregateKey(region), DaysKey(region));
      call.events +=
          apply_abi::EncodeEventArg(apply_abi::kEnroll, agg, call.Index("uhc:{31.71}:p:string"),
                                    field, kStartMs + 41 * kDayMs, 1, 1);
      good(call, 2);
      refused(call, "a bucket key of another type");
      ASSERT_TRUE(redis.Command({"DEL", "uhc:{31.71}:p:string"}).ok());
    }
    {  // an aggregate key holding a string, after good events of another region
      ASSERT_TRUE(redis.Command({"RENAME", AggregateKey("11.01"), "saved"}).ok());
      ASSERT_TRUE(redis.Command({"SET", AggregateKey("11.01"), "x"}).ok());
      RawCall call;
      good(call, 3);
      call.Add(apply_abi::kEnroll, "11.01", field, kStartMs + 41 * kDayMs, 1, 1);
      refused(call, "an aggregate key of another type");
      ASSERT_TRUE(redis.Command({"RENAME", "saved", AggregateKey("11.01")}).ok());
    }
    {  // a malformed participant record met by a status change
      const std::string bucket = BucketKey(region, static_cast<uint8_t>(field[0]) % kBuckets);
      ASSERT_TRUE(redis.Command({"HSET", bucket, field, "short"}).ok());
      RawCall call;
      good(call, 4);
      call.Add(apply_abi::kStatus, region, field, kStartMs + 41 * kDayMs, 1, 0);
      refused(call, "a malformed record");
      ASSERT_TRUE(redis.Command({"HDEL", bucket, field}).ok());
    }
    {  // a malformed aggregate, after good events of the other region
      auto saved = redis.Command({"HGET", AggregateKey("11.02"), "c"});
      ASSERT_TRUE(saved.ok());
      ASSERT_TRUE(redis.Command({"HSET", AggregateKey("11.02"), "c", "ten bytes!"}).ok());
      RawCall call;
      good(call, 5);
      call.Add(apply_abi::kEnroll, "11.02", field, kStartMs + 41 * kDayMs, 1, 1);
      refused(call, "a malformed aggregate");
      ASSERT_TRUE(redis
                      .Command({"HSET", AggregateKey("11.02"), "c",
                                std::string((*saved)->str, (*saved)->len)})
                      .ok());
    }
    {  // a malformed day, reached by a late event, after good events
      const std::string day = "d" + std::to_string((kStartMs + 7 * 3600000) / kDayMs);
      ASSERT_TRUE(redis.Command({"HSET", DaysKey(region), day, "short"}).ok());
      RawCall call;
      good(call, 6);
      refused(call, "a malformed day");
      ASSERT_TRUE(redis.Command({"HDEL", DaysKey(region), day}).ok());
    }
  }
  // Both still agree, and the good events apply once the faults are gone.
  RawCall call;
  for (uint32_t i = 0; i < 40; ++i) {
    std::string f = "\x10\x20\x30\x40\x50\x60\x70";
    f.insert(f.begin(), static_cast<char>(i));
    call.Add(apply_abi::kEnroll, "31.71", f, kStartMs + 40 * kDayMs + i, i, 1);
  }
  for (bool module : {false, true}) {
    auto reply = clients_[module ? 1 : 0]->Command(call.Command(module));
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(std::string((*reply)->str, (*reply)->len), std::string(40, '\x01'));
  }
  EXPECT_EQ(Keyspace(*clients_[1]), Keyspace(*clients_[0]));
}

// A backfill: one call whose events fall on thousands of different days (8,000 enrolments, a
// day apart from 2004 on, as a region's years of history sent at once). The function once spread
// every day into one HSET and failed ("too many results to unpack") after writing the records.
TEST_F(ApplyModuleTest, ACallAcrossThousandsOfDaysAppliesOnBothEngines) {
  constexpr int kEvents = 8000;
  constexpr uint64_t k2004 = 1073001600000;  // 2004-01-02 00:00 UTC
  RawCall call;
  for (int i = 0; i < kEvents; ++i) {
    std::string field(8, '\0');
    for (int b = 0; b < 4; ++b) field[static_cast<size_t>(b)] = static_cast<char>(i >> (8 * b));
    field[7] = 'x';
    call.Add(apply_abi::kEnroll, "12.03", field, k2004 + static_cast<uint64_t>(i) * kDayMs,
             static_cast<uint32_t>(i), static_cast<uint8_t>(1 + i % 5 + 8 * (i % 2)));
  }
  for (bool module : {false, true}) {
    auto reply = clients_[module ? 1 : 0]->Command(call.Command(module));
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ((*reply)->type, REDIS_REPLY_STRING) << std::string((*reply)->str, (*reply)->len);
    EXPECT_EQ(std::string((*reply)->str, (*reply)->len), std::string(kEvents, '\x01'));
    auto agg = clients_[module ? 1 : 0]->Command({"HGETALL", AggregateKey("12.03")});
    ASSERT_TRUE(agg.ok());
    EXPECT_EQ(AggregateFields(agg->get())["part"], kEvents);
    EXPECT_EQ(AggregateFields(agg->get())["act"], kEvents / 2);
    auto days = clients_[module ? 1 : 0]->Command({"HLEN", DaysKey("12.03")});
    ASSERT_TRUE(days.ok());
    EXPECT_EQ((*days)->integer, kEvents);  // every day but the newest, and the marker
  }
  EXPECT_EQ(Keyspace(*clients_[1]), Keyspace(*clients_[0]));
}

}  // namespace
}  // namespace uhc
