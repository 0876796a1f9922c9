// uhc-bench-ceiling: the least Redis CPU per event any exact design of our shape can spend.
// A batched Redis Function that does one HGET and one HSET per event and nothing else (no
// aggregates, no decisions), fed the way enrollment-svc feeds uhc_apply: 2,000 events per call,
// 8 calls in flight on one connection, participants in 32 bucket hashes per kab/kota with 8-byte
// fields and 11-byte values, 60 % new participants and 40 % existing ones. Prints one JSON line:
// events/s and Redis CPU per event (INFO cpu delta / events).
#include <hiredis/hiredis.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

ABSL_FLAG(int, redis_port, 6379, "Redis port on 127.0.0.1");
ABSL_FLAG(int64_t, events, 1000000, "events to apply");
ABSL_FLAG(int64_t, participants, 0, "distinct participants (0: events * 0.6)");
ABSL_FLAG(int, batch, 2000, "events per function call");
ABSL_FLAG(int, in_flight, 8, "calls in flight");
ABSL_FLAG(int, regions, 514, "regions (kab/kota)");
ABSL_FLAG(int, bucket_bits, 5, "bucket hashes per region: 2^bits");
ABSL_FLAG(bool, floor, false,
          "the C floor instead: the same batches to uhc_bench.floor (tests/bench/floor_module.cc, "
          "uhc_bench_floor.so loaded into this Redis), which also updates two region counters "
          "per call");

namespace {

constexpr char kLibrary[] = R"(#!lua name=uhc_bench_ceiling
-- ARGV[1]: per event, bucket key index (2 bytes, 1-based into KEYS), field (8), value (11).
redis.register_function('uhc_bench_ceiling', function(keys, args)
  local s = args[1]
  local n = #s / 21
  local pos = 1
  for _ = 1, n do
    local bi, field, value
    bi, field, value, pos = struct.unpack('>Hc8c11', s, pos)
    local key = keys[bi]
    redis.call('HGET', key, field)
    redis.call('HSET', key, field, value)
  end
  return n
end)
)";

uint64_t Mix(uint64_t x) {  // splitmix64: a participant's 8-byte field
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

redisReply* Command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
}

double RedisCpuSeconds(redisContext* c) {
  redisReply* r = Command(c, {"INFO", "cpu"});
  double total = 0;
  if (r != nullptr && (r->type == REDIS_REPLY_STRING)) {
    for (absl::string_view line : absl::StrSplit(absl::string_view(r->str, r->len), "\r\n")) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ':');
      double v = 0;
      if ((kv.first == "used_cpu_sys" || kv.first == "used_cpu_user") &&
          absl::SimpleAtod(kv.second, &v))
        total += v;
    }
  }
  freeReplyObject(r);
  return total;
}

// One call's command: FCALL uhc_bench_ceiling <numkeys> <bucket keys...> <packed events>.
std::vector<std::string> MakeCall(std::mt19937_64& rng, int64_t& next_new, int64_t people, int n) {
  const int regions = absl::GetFlag(FLAGS_regions);
  const uint64_t buckets = uint64_t{1} << absl::GetFlag(FLAGS_bucket_bits);
  std::vector<std::string> keys;
  std::unordered_map<std::string, uint16_t> index;
  std::string packed;
  packed.reserve(static_cast<size_t>(n) * 21);
  for (int e = 0; e < n; ++e) {
    int64_t i =
        (next_new < 1000 || rng() % 100 < 60) && next_new < people
            ? next_new++
            : static_cast<int64_t>(rng() % static_cast<uint64_t>(std::max<int64_t>(next_new, 1)));
    uint64_t field = Mix(static_cast<uint64_t>(i));
    std::string key = absl::StrFormat("bench:{%d}:p:%x", static_cast<int>(i * 7919 % regions),
                                      static_cast<unsigned>(field % buckets));
    auto [it, added] = index.emplace(key, static_cast<uint16_t>(keys.size() + 1));
    if (added) keys.push_back(key);
    packed.push_back(static_cast<char>(it->second >> 8));
    packed.push_back(static_cast<char>(it->second & 0xff));
    for (int b = 7; b >= 0; --b) packed.push_back(static_cast<char>(field >> (8 * b)));
    uint64_t value = rng();
    for (int b = 0; b < 11; ++b) packed.push_back(static_cast<char>(value >> (8 * (b % 8))));
  }
  std::vector<std::string> args;
  if (absl::GetFlag(FLAGS_floor)) {
    args = {"uhc_bench.floor", std::to_string(keys.size() + 1), "bench:{0}:counters"};
  } else {
    args = {"FCALL", "uhc_bench_ceiling", std::to_string(keys.size())};
  }
  args.insert(args.end(), keys.begin(), keys.end());
  args.push_back(std::move(packed));
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "uhc-bench-ceiling --redis_port P [--events N] [--floor]: the Redis-only ceiling of exact "
      "ingest (one HGET and one HSET per event in a batched Redis Function), or with --floor the "
      "C floor (the same in a module); prints one JSON line");
  absl::ParseCommandLine(argc, argv);
  redisContext* c = redisConnect("127.0.0.1", absl::GetFlag(FLAGS_redis_port));
  if (c == nullptr || c->err) {
    std::fprintf(stderr, "uhc-bench-ceiling: cannot connect to Redis on 127.0.0.1:%d: %s\n",
                 absl::GetFlag(FLAGS_redis_port), c ? c->errstr : "out of memory");
    return 2;
  }
  redisReply* loaded = absl::GetFlag(FLAGS_floor)
                           ? Command(c, {"COMMAND", "INFO", "uhc_bench.floor"})
                           : Command(c, {"FUNCTION", "LOAD", "REPLACE", kLibrary});
  if (loaded != nullptr && absl::GetFlag(FLAGS_floor) && loaded->type == REDIS_REPLY_ARRAY &&
      (loaded->elements == 0 || loaded->element[0]->type == REDIS_REPLY_NIL)) {
    std::fprintf(stderr, "uhc-bench-ceiling: --floor needs uhc_bench_floor.so loaded\n");
    return 2;
  }
  if (loaded == nullptr || loaded->type == REDIS_REPLY_ERROR) {
    std::fprintf(stderr, "uhc-bench-ceiling: FUNCTION LOAD failed: %s\n",
                 loaded ? loaded->str : c->errstr);
    return 2;
  }
  freeReplyObject(loaded);

  const int64_t total = absl::GetFlag(FLAGS_events);
  int64_t people = absl::GetFlag(FLAGS_participants);
  if (people == 0) people = std::max<int64_t>(1, total * 6 / 10);
  const int batch = absl::GetFlag(FLAGS_batch);
  std::mt19937_64 rng(7);
  int64_t next_new = 0;
  // Calls are built before the clock starts, as the services' work is not the store's.
  std::vector<std::vector<std::string>> calls;
  for (int64_t done = 0; done < total; done += batch)
    calls.push_back(
        MakeCall(rng, next_new, people, static_cast<int>(std::min<int64_t>(batch, total - done))));

  double cpu_before = RedisCpuSeconds(c);
  absl::Time start = absl::Now();
  size_t sent = 0, answered = 0;
  int64_t applied = 0;
  auto send = [&] {
    const std::vector<std::string>& a = calls[sent++];
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& s : a) {
      argv.push_back(s.data());
      lens.push_back(s.size());
    }
    redisAppendCommandArgv(c, static_cast<int>(a.size()), argv.data(), lens.data());
  };
  while (sent < calls.size() && sent < static_cast<size_t>(absl::GetFlag(FLAGS_in_flight))) send();
  while (answered < calls.size()) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK) {
      std::fprintf(stderr, "uhc-bench-ceiling: %s\n", c->errstr);
      return 1;
    }
    redisReply* r = static_cast<redisReply*>(raw);
    if (r->type != REDIS_REPLY_INTEGER) {
      std::fprintf(stderr, "uhc-bench-ceiling: unexpected reply: %s\n",
                   r->type == REDIS_REPLY_ERROR ? r->str : "(not an integer)");
      return 1;
    }
    applied += r->integer;
    freeReplyObject(r);
    ++answered;
    if (sent < calls.size()) send();
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  double cpu = RedisCpuSeconds(c) - cpu_before;
  std::printf(
      "{\"mode\":\"%s\",\"events\":%lld,\"seconds\":%.3f,\"events_per_second\":%.0f,"
      "\"redis_cpu_seconds\":%.3f,\"redis_cpu_us_per_event\":%.3f}\n",
      absl::GetFlag(FLAGS_floor) ? "floor" : "ceiling", static_cast<long long>(applied), seconds,
      applied / seconds, cpu, cpu * 1e6 / applied);
  redisFree(c);
  return applied == total ? 0 : 1;
}
