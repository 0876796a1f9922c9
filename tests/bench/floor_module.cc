// uhc_bench_floor.so: the C floor of issue #26 item 6, the apply's least work as a Redis module.
// uhc_bench.floor <numkeys> <counters key> <bucket keys...> <events>: per event (ceiling.cc's
// 21 bytes: bucket key index, 1-based into the bucket keys; field, 8 bytes; value, 11 bytes, its
// first 6 its instant), read the participant's field and, when the value is newer (or absent),
// write it; per call, update two counters of the counters key. Writes go as the module's do
// (Call::Set: replicated, signalled, notified). Answers the events written. Bench use only: it
// checks nothing it need not to stay memory-safe.
#include <cstdint>
#include <cstring>
#include <string>

#include "enrollment-svc/module/module_support.h"

namespace uhc::redis_module {
namespace {

constexpr size_t kFloorEventBytes = 21;

int Floor(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  if (argc < 4) return api.WrongArity(ctx);
  const int keys = argc - 3;
  size_t length = 0;
  const char* s = api.StringPtrLen(argv[argc - 1], &length);
  if (length % kFloorEventBytes != 0) return api.ReplyWithError(ctx, "ERR events of 21 bytes");
  Call call(ctx, argv, keys);
  long long written = 0;
  for (size_t p = 0; p < length; p += kFloorEventBytes) {
    const int bucket = 1 + ((static_cast<uint8_t>(s[p]) << 8) | static_cast<uint8_t>(s[p + 1]));
    if (bucket < 2 || bucket > keys) return api.ReplyWithError(ctx, "ERR key index out of range");
    RedisModuleString* field = call.String(s + p + 2, 8);
    std::string stored;
    const bool has = call.Get(bucket, field, &stored);
    if (!has || stored.size() < 6 || std::memcmp(stored.data(), s + p + 10, 6) < 0) {
      call.Set(bucket, field, call.String(s + p + 10, 11));
      ++written;
    }
  }
  // Two region counters, as the apply's aggregate update per call.
  for (const char* name : {"applied", "written"}) {
    RedisModuleString* field = call.String(name, std::strlen(name));
    std::string value;
    long long n = call.Get(1, field, &value) ? std::stoll(value) : 0;
    n += name[0] == 'a' ? static_cast<long long>(length / kFloorEventBytes) : written;
    call.Set(1, field, call.String(std::to_string(n)));
  }
  return api.ReplyWithLongLong(ctx, static_cast<long long>(length / kFloorEventBytes));
}

}  // namespace
}  // namespace uhc::redis_module

extern "C" __attribute__((visibility("default"))) int RedisModule_OnLoad(RedisModuleCtx* ctx,
                                                                         void**, int) {
  using namespace uhc::redis_module;
  if (Init(ctx, "uhc_bench_floor", 1) != kOk) return kErr;
  return api.CreateCommand(ctx, "uhc_bench.floor", Floor, "write", 2, -2, 1);
}
