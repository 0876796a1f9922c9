#pragma once

// What uhc_module.cc and aggregate_step.cc share: uhc_apply_v3.lua's constants (same names, so
// the two read side by side), the byte codecs of its records and counts, a call's events and
// touched aggregates, and Call, which owns a call's open keys and strings.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/redis/apply_constants.h"
#include "enrollment-svc/module/redis_module_api.h"

namespace uhc::redis_module {

// The constants shared with uhc_apply_v3.lua (generated from the same header), same names.
using namespace ::uhc::apply_constants;  // NOLINT(build/namespaces): ENROLL, APPLIED, ...
// Answered by uhc.version; common/redis/schema.h's apply_abi::kModuleVersion must match.
inline constexpr long long kModuleVersion = 4;
inline constexpr size_t kEventBytes = EVENT_BYTES, kRecordBytes = RECORD_BYTES,
                        kFieldBytes = FIELD_BYTES;
inline constexpr int64_t kDayMs = DAY_MS, kWibMs = WIB_MS;
inline constexpr int32_t kNoDay = NO_DAY;
inline constexpr uint64_t kMaxDays = 65536;  // the function's `moves` keys hold a day in 16 bits
inline constexpr size_t kHeadBytes = HEAD_BYTES, kLayout3Bytes = LAYOUT3_BYTES, kCountsBytes = 40;
inline constexpr char kEnc[] =
    "hash table on purpose: a day hash is looked up by field, never scanned; this value is longer "
    "th"
    "an hash-max-listpack-value (at most 255), so Redis keeps the hash a hash table for good "
    "(uhc_ap"
    "ply_v3.lua) ......................................................";
using Counts = std::array<int64_t, 10>;  // slot s - 1 = n<s>, slot 4 + s = a<s>

inline int Seg(int flags) { return flags & 7; }
inline int Act(int flags) { return (flags >> 3) & 1; }
inline bool Live(int flags) {
  const int kind = (flags >> 4) & 7;
  return kind != K_MOVED_OUT && kind != K_TERMINATED;
}
inline int State(int flags) { return Seg(flags) + 5 * Act(flags); }

// Adds `times` records in STATE `state` (0: none) to the counts, as the Lua's add_state.
inline void AddState(Counts& t, int state, int64_t times) {
  if (state == 0 || times == 0) return;
  t[(state - 1) % 5] += times;
  if (state > 5) t[state - 1] += times;
}

inline uint64_t Big(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}
inline void PutBig(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline int32_t Signed32(const char* p) {
  return static_cast<int32_t>(static_cast<uint32_t>(Big(p, 4)));
}
inline Counts DecodeCounts(const char* p) {
  Counts c;
  for (int s = 0; s < 10; ++s) c[s] = Signed32(p + 4 * s);
  return c;
}
inline void PutCounts(std::string& out, const Counts& c) {
  for (int64_t v : c) PutBig(out, static_cast<uint32_t>(static_cast<int32_t>(v)), 4);
}

struct Event {
  int op, agg, bucket, arg;  // key indexes 1-based, as sent
  const char* field;
  uint64_t ts;
  uint32_t idh;
};

// An aggregate's part of the call: what its applied events changed.
struct Touched {
  int agg;                          // key index
  std::array<int64_t, 11> first{};  // events of the call's first day, by STATE (0: none)
  std::map<int32_t, Counts> other_days;
  int64_t applied = 0;
  uint64_t newest = 0;
};

// The owned strings and open keys of one call, released at its end.
class Call {
 public:
  Call(RedisModuleCtx* ctx, RedisModuleString** argv, int keys) : ctx_(ctx), argv_(argv) {
    open_.assign(keys + 1, nullptr);
  }
  ~Call() {
    for (RedisModuleKey* key : open_) {
      if (key) api.CloseKey(key);
    }
    for (RedisModuleString* s : strings_) api.FreeString(ctx_, s);
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  RedisModuleString* Name(int index) { return argv_[1 + index]; }
  RedisModuleKey* Key(int index) {
    if (!open_[index]) open_[index] = api.OpenKey(ctx_, Name(index), kRead | kWrite);
    return open_[index];
  }
  void Close(int index) {
    if (open_[index]) api.CloseKey(open_[index]);
    open_[index] = nullptr;
  }
  RedisModuleString* String(const char* bytes, size_t length) {
    strings_.push_back(api.CreateString(ctx_, bytes, length));
    return strings_.back();
  }
  RedisModuleString* String(const std::string& s) { return String(s.data(), s.size()); }
  // A field of hash `index` into `value`; false when it is missing.
  bool Get(int index, RedisModuleString* field, std::string* value) {
    RedisModuleString* v = nullptr;
    api.HashGet(Key(index), kHashNone, field, &v, nullptr);
    if (!v) return false;
    size_t length = 0;
    const char* p = api.StringPtrLen(v, &length);
    value->assign(p, length);
    api.FreeString(ctx_, v);
    return true;
  }
  // Sets a field of hash `index`, and does what the function's HSET does besides: sends replicas
  // and the AOF the HSET (by effect, so neither needs the module), signals the key as modified
  // (WATCH, client tracking) and publishes its keyspace event. Keys only read are not signalled.
  void Set(int index, RedisModuleString* field, RedisModuleString* value) {
    api.HashSet(Key(index), kHashNone, field, value, nullptr);
    api.Replicate(ctx_, "HSET", "sss", Name(index), field, value);
    api.SignalModifiedKey(ctx_, Name(index));
    api.NotifyKeyspaceEvent(ctx_, kNotifyHash, "hset", Name(index));
  }
  // HSET / HDEL as commands, replicated, for the rare writes of the day hash and of a layout
  // migration: written as the function writes them, with no second implementation of either (the
  // command signals and notifies itself).
  void Command(const char* command, int index, const std::vector<RedisModuleString*>& args) {
    Close(index);
    RedisModuleCallReply* reply =
        api.Call(ctx_, command, "sv!", Name(index), const_cast<RedisModuleString**>(args.data()),
                 args.size());
    if (reply) api.FreeCallReply(reply);
  }

 private:
  RedisModuleCtx* ctx_;
  RedisModuleString** argv_;
  std::vector<RedisModuleKey*> open_;
  std::vector<RedisModuleString*> strings_;
};

// A participant record as it was before the call wrote it (the Lua's undo log).
struct Undo {
  int bucket;
  RedisModuleString* field;
  bool had;
  std::string old;
};

// Puts back the records in `undo`, newest first, replicated and notified as the function's.
inline void RollBack(Call& call, const std::vector<Undo>& undo) {
  for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
    if (it->had) {
      call.Command("HSET", it->bucket, {it->field, call.String(it->old)});
    } else {
      call.Command("HDEL", it->bucket, {it->field});
    }
  }
}

}  // namespace uhc::redis_module
