// uhc_module: a Redis module with one command, uhc.apply_v3, that does exactly what the Redis
// function uhc_apply_v3 (enrollment-svc/uhc_apply_v3.lua) does, to the same keys in the same
// layouts, in C++ instead of Lua: the same transitions, the same result bytes, aggregate layout 3
// (layouts 1 and 2 moved to it on first change), the same day history. The Lua file is the
// specification and documents the data; tests/integration/apply_module_test.cc applies the same
// events through both and compares every key and every result byte.
//
//   uhc.apply_v3 <numkeys> <key>... <events>
//
// KEYS and the events as uhc_apply_v3's (24 bytes per event: op, aggregate key index, bucket key
// index, participant field, occurred_at ms, event id hash, argument). It checks the whole call
// first (event layout, key indexes, argument bytes, key types) and changes nothing when any is
// wrong. Replicas and the AOF get its writes as HSET and HDEL commands, as from the function, so
// only a primary needs the module.
//
// Why: a call spends most of its Redis CPU in the Lua interpreter around the commands it issues
// (docs/BENCHMARKS.md, issue #14); here the per-event work is a few comparisons and direct hash
// lookups, with no command dispatch per event.

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "enrollment-svc/module/redis_module_api.h"

namespace uhc::redis_module {
namespace {

// uhc_apply_v3.lua's constants, same names.
constexpr int ENROLL = 1, STATUS = 2, SEGMENT = 3, LEAVE = 4, ENTER = 5, TERMINATE = 6;
constexpr int K_ENROLLED = 1, K_STATUS = 2, K_SEGMENT = 3, K_RELOCATED = 4, K_MOVED_OUT = 5,
              K_TERMINATED = 6;
constexpr int APPLIED = 1, DUPLICATE = 2, STALE = 3, NOT_FOUND = 4, GONE = 5, SKIPPED = 6;
constexpr int FROM_LEAVE = 255;
constexpr size_t kEventBytes = 24, kRecordBytes = 11, kFieldBytes = 8;
constexpr int64_t kDayMs = 86400000, kWibMs = 7 * 3600000;
constexpr int32_t kNoDay = -1;
constexpr size_t kHeadBytes = 56, kLayout3Bytes = 96, kCountsBytes = 40;
constexpr char kEnc[] =
    "hash table on purpose: a day hash is looked up by field, never scanned (uhc_apply_v3)";
const char* const kLayout1[10] = {"n1", "n2", "n3", "n4", "n5", "a1", "a2", "a3", "a4", "a5"};

using Counts = std::array<int64_t, 10>;  // slot s - 1 = n<s>, slot 4 + s = a<s>

int Seg(int flags) { return flags & 7; }
int Act(int flags) { return (flags >> 3) & 1; }
bool Live(int flags) {
  const int kind = (flags >> 4) & 7;
  return kind != K_MOVED_OUT && kind != K_TERMINATED;
}
int State(int flags) { return Seg(flags) + 5 * Act(flags); }

// Adds `times` records in STATE `state` (0: none) to the counts, as the Lua's add_state.
void AddState(Counts& t, int state, int64_t times) {
  if (state == 0 || times == 0) return;
  t[(state - 1) % 5] += times;
  if (state > 5) t[state - 1] += times;
}

uint64_t Big(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}
void PutBig(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
int32_t Signed32(const char* p) { return static_cast<int32_t>(static_cast<uint32_t>(Big(p, 4))); }
Counts DecodeCounts(const char* p) {
  Counts c;
  for (int s = 0; s < 10; ++s) c[s] = Signed32(p + 4 * s);
  return c;
}
void PutCounts(std::string& out, const Counts& c) {
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
  // Sets a field of hash `index`, and sends replicas and the AOF the HSET that does the same (as
  // a Lua function's writes go: by effect, so neither needs the module).
  void Set(int index, RedisModuleString* field, RedisModuleString* value) {
    api.HashSet(Key(index), kHashNone, field, value, nullptr);
    api.Replicate(ctx_, "HSET", "sss", Name(index), field, value);
  }
  // HSET / HDEL as commands, replicated (HSET makes a day hash a hash table for its long marker
  // value; a module's HashSet would not convert it).
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

std::string Record(int flags, uint64_t ts, uint32_t idh) {
  std::string r;
  r.push_back(static_cast<char>(flags));
  PutBig(r, ts, 6);
  PutBig(r, idh, 4);
  return r;
}

int64_t Number(const std::string& s, bool* ok) {
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  *ok = !s.empty() && end && *end == '\0';
  return *ok ? v : 0;
}

// An aggregate of layout 1 or 2, or one without counts yet, in layout 3 (the Lua's migrate);
// deletes the fields layout 3 replaces.
std::string Migrate(Call& call, int agg, const std::string* packed) {
  Counts c{};
  if (packed) {
    c = DecodeCounts(packed->data());
  } else {
    for (int s = 0; s < 10; ++s) {
      std::string v;
      bool ok = false;
      if (call.Get(agg, call.String(kLayout1[s], 2), &v)) c[s] = Number(v, &ok);
    }
  }
  std::string last, t, e;
  const bool has_t = call.Get(agg, call.String("t", 1), &t);
  const bool has_e = call.Get(agg, call.String("e", 1), &e);
  const bool has_last = call.Get(agg, call.String("last", 4), &last);
  bool ok = false;
  int64_t day = has_t ? Number(t, &ok) : 0;
  if (!ok) day = kNoDay;
  Counts began = c;
  if (has_t && has_e && e.size() >= kCountsBytes) {
    const Counts changes = DecodeCounts(e.data());
    for (int s = 0; s < 10; ++s) began[s] -= changes[s];
  }
  std::vector<RedisModuleString*> old;
  for (const char* f : {"part", "act", "last", "t", "e"})
    old.push_back(call.String(f, std::strlen(f)));
  for (const char* f : kLayout1) old.push_back(call.String(f, 2));
  call.Command("HDEL", agg, old);
  std::string out;
  PutCounts(out, c);
  PutBig(out, 0, 6);
  PutBig(out, has_last ? static_cast<uint64_t>(Number(last, &ok)) : 0, 6);
  PutBig(out, static_cast<uint32_t>(static_cast<int32_t>(day)), 4);
  PutCounts(out, began);
  return out;
}

// Adds each day's changes to the day hash `hist`; a day whose changes cancel out is left alone
// (the Lua's write_days).
void WriteDays(Call& call, int hist, std::map<int32_t, Counts>& later) {
  std::vector<RedisModuleString*> args;
  bool new_day = false;
  for (auto& [d, h] : later) {
    bool zero = true;
    for (int64_t v : h) zero = zero && v == 0;
    if (zero) continue;
    const std::string name = "d" + std::to_string(d);
    RedisModuleString* field = call.String(name);
    std::string old;
    if (api.KeyType(call.Key(hist)) == kKeyTypeHash && call.Get(hist, field, &old) &&
        old.size() >= kCountsBytes) {
      const Counts o = DecodeCounts(old.data());
      for (int s = 0; s < 10; ++s) h[s] += o[s];
    } else {
      new_day = true;
    }
    std::string packed;
    PutCounts(packed, h);
    args.push_back(field);
    args.push_back(call.String(packed));
  }
  if (args.empty()) return;
  if (new_day) {
    args.push_back(call.String("enc", 3));
    args.push_back(call.String(kEnc, sizeof(kEnc) - 1));
  }
  call.Command("HSET", hist, args);
}

// The aggregate step for one touched aggregate (the Lua's last loop over `counts`); false if its
// counts are shorter than any layout's.
bool UpdateAggregate(Call& call, Touched& r, int32_t first_day) {
  RedisModuleString* c_field = call.String("c", 1);
  std::string packed;
  const bool has_c =
      api.KeyType(call.Key(r.agg)) == kKeyTypeHash && call.Get(r.agg, c_field, &packed);
  if (has_c && packed.size() < kCountsBytes) return false;
  if (!has_c || packed.size() != kLayout3Bytes)
    packed = Migrate(call, r.agg, has_c ? &packed : nullptr);
  Counts v = DecodeCounts(packed.data());
  int64_t applied = static_cast<int64_t>(Big(packed.data() + 40, 6));
  uint64_t newest = Big(packed.data() + 46, 6);
  int32_t day = Signed32(packed.data() + 52);
  std::string tail = packed.substr(kHeadBytes);

  if (r.other_days.empty() && day == first_day) {
    for (int state = 1; state <= 10; ++state) AddState(v, state, r.first[state]);
  } else {
    std::map<int32_t, Counts>& by_day = r.other_days;
    Counts h{};
    for (int state = 1; state <= 10; ++state) AddState(h, state, r.first[state]);
    for (int64_t x : h) {
      if (x != 0) {
        by_day[first_day] = h;
        break;
      }
    }
    int32_t t = day;
    bool has_began = false, has_later = false;
    Counts began{};
    std::map<int32_t, Counts> later;
    const int32_t newest_day = by_day.empty() ? kNoDay : by_day.rbegin()->first;
    if (newest_day > t) {  // the current day is over: its changes go to the day hash
      if (t != kNoDay) {
        Counts was = DecodeCounts(tail.data());
        for (int s = 0; s < 10; ++s) was[s] = v[s] - was[s];
        later[t] = was;
        has_later = true;
      }
      t = newest_day;
      began = v;
      has_began = true;
      day = t;
    }
    for (const auto& [d, changes] : by_day) {  // the Lua's book_day
      for (int s = 0; s < 10; ++s) v[s] += changes[s];
      if (d >= t) continue;
      if (!has_began) {
        began = DecodeCounts(tail.data());
        has_began = true;
      }
      for (int s = 0; s < 10; ++s) began[s] += changes[s];
      auto [it, inserted] = later.try_emplace(d, changes);
      if (!inserted) {
        for (int s = 0; s < 10; ++s) it->second[s] += changes[s];
      }
      has_later = true;
    }
    if (has_began) {
      tail.clear();
      PutCounts(tail, began);
    }
    if (has_later) WriteDays(call, r.agg + 1, later);
  }
  applied += r.applied;
  if (r.newest > newest) newest = r.newest;
  std::string out;
  PutCounts(out, v);
  PutBig(out, static_cast<uint64_t>(applied), 6);
  PutBig(out, newest, 6);
  PutBig(out, static_cast<uint32_t>(day), 4);
  out += tail;
  call.Set(r.agg, c_field, call.String(out));
  return true;
}

// What is wrong with the call, or "" (nothing is changed when something is).
std::string Check(Call& call, const char* s, size_t n, int keys, std::vector<Event>* events) {
  events->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const char* p = s + i * kEventBytes;
    Event e{static_cast<uint8_t>(p[0]),
            static_cast<int>(Big(p + 1, 2)),
            static_cast<int>(Big(p + 3, 2)),
            static_cast<uint8_t>(p[23]),
            p + 5,
            Big(p + 13, 6),
            static_cast<uint32_t>(Big(p + 19, 4))};
    if (e.op < ENROLL || e.op > TERMINATE) return "an event's operation is not 1-6";
    // The aggregate's day hash key follows it.
    if (e.agg < 1 || e.agg + 1 > keys || e.bucket < 1 || e.bucket > keys) {
      return "an event names a key index outside KEYS";
    }
    const bool takes_flags = e.op == ENROLL || (e.op == ENTER && e.arg != FROM_LEAVE);
    if ((takes_flags && (Seg(e.arg) < 1 || Seg(e.arg) > 5)) || (e.op == STATUS && e.arg > 1) ||
        (e.op == SEGMENT && (e.arg < 1 || e.arg > 5))) {
      return "an event's argument byte is out of range";
    }
    events->push_back(e);
  }
  // One open handle per key: a name given twice would let a write through one index (HSET or
  // HDEL as a command) create or delete the key under the other's open handle.
  std::unordered_set<std::string_view> names;
  for (int index = 1; index <= keys; ++index) {
    size_t length = 0;
    const char* name = api.StringPtrLen(call.Name(index), &length);
    if (!names.emplace(name, length).second) return "a key is named twice";
  }
  for (const Event& e : *events) {
    for (int index : {e.agg, e.agg + 1, e.bucket}) {
      const int type = api.KeyType(call.Key(index));
      if (type != kKeyTypeEmpty && type != kKeyTypeHash) return "WRONGTYPE";
    }
  }
  return "";
}

int Apply(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  if (argc < 3) return api.WrongArity(ctx);
  size_t length = 0;
  const char* numkeys = api.StringPtrLen(argv[1], &length);
  char* end = nullptr;
  const long keys = std::strtol(numkeys, &end, 10);
  if (length == 0 || *end != '\0' || keys < 0 || keys != argc - 3) {
    return api.ReplyWithError(ctx, "ERR uhc.apply_v3: numkeys does not match the arguments");
  }
  const char* s = api.StringPtrLen(argv[argc - 1], &length);
  if (length % kEventBytes != 0) {
    return api.ReplyWithError(ctx, "ERR uhc.apply_v3: the events are not 24 bytes each");
  }
  const size_t n = length / kEventBytes;
  Call call(ctx, argv, static_cast<int>(keys));
  std::vector<Event> events;
  if (std::string wrong = Check(call, s, n, static_cast<int>(keys), &events); !wrong.empty()) {
    if (wrong == "WRONGTYPE") {
      return api.ReplyWithError(
          ctx, "WRONGTYPE Operation against a key holding the wrong kind of value");
    }
    return api.ReplyWithError(ctx, ("ERR uhc.apply_v3: " + wrong).c_str());
  }

  std::vector<int> touched_of(keys + 1, -1);
  std::vector<Touched> touched;
  std::string out(n, '\0');
  int32_t day = 0, first_day = 0;
  int64_t day_start = 0, day_end = -1;
  bool moved = false;  // what the last LEAVE of this call removed, when true
  int moved_seg = 0, moved_act = 0;
  bool malformed = false;
  for (size_t i = 0; i < n; ++i) {
    const Event& e = events[i];
    const auto ts = static_cast<int64_t>(e.ts);
    if (ts >= day_end || ts < day_start) {
      const int64_t wib = ts + kWibMs;
      day = static_cast<int32_t>(wib / kDayMs);
      day_start = day * kDayMs - kWibMs;
      day_end = day_start + kDayMs;
      if (i == 0) first_day = day;
    }
    if (e.op == LEAVE) moved = false;
    RedisModuleString* field = call.String(e.field, kFieldBytes);
    int outcome = 0, from = 0, to = 0, new_flags = 0;
    bool written = false;

    bool has_new = false;
    int new_seg = 0, new_active = 0;
    if (e.op == ENROLL || (e.op == ENTER && e.arg != FROM_LEAVE)) {
      has_new = true;
      new_seg = Seg(e.arg);
      new_active = Act(e.arg);
    } else if (e.op == ENTER && moved) {
      has_new = true;
      new_seg = moved_seg;
      new_active = moved_act;
    }
    // The record first: a new participant (most ENROLLs and ENTERs) is then one insert.
    std::string rec;
    const bool has_rec = call.Get(e.bucket, field, &rec);
    if (has_new) {
      to = new_seg + 5 * new_active;
      new_flags = new_seg + new_active * 8 + (e.op == ENROLL ? K_ENROLLED : K_RELOCATED) * 16;
      if (!has_rec) {
        call.Set(e.bucket, field, call.String(Record(new_flags, e.ts, e.idh)));
        outcome = APPLIED;
        from = 0;
        written = true;
      }
    }

    if (!outcome) {
      if (rec.size() != kRecordBytes && has_rec) {
        malformed = true;
        break;
      }
      const int flags = has_rec ? static_cast<uint8_t>(rec[0]) : 0;
      const uint64_t rts = has_rec ? Big(rec.data() + 1, 6) : 0;
      const auto ridh = has_rec ? static_cast<uint32_t>(Big(rec.data() + 7, 4)) : 0u;
      if (has_rec && e.ts == rts && e.idh == ridh) {
        outcome = DUPLICATE;
        if (e.op == LEAVE) {
          moved = true;
          moved_seg = Seg(flags);
          moved_act = Act(flags);
        }
      } else if (has_rec && (e.ts < rts || (e.ts == rts && e.idh < ridh))) {
        outcome = STALE;
      } else if (e.op == ENROLL || e.op == ENTER) {
        if (!has_new) {
          outcome = SKIPPED;
        } else {
          outcome = APPLIED;
          from = has_rec && Live(flags) ? State(flags) : 0;
        }
      } else if (!has_rec) {
        outcome = NOT_FOUND;
      } else if (!Live(flags)) {
        outcome = GONE;
      } else {
        const int seg = Seg(flags), active = Act(flags);
        outcome = APPLIED;
        from = State(flags);
        if (e.op == STATUS) {
          new_flags = seg + e.arg * 8 + K_STATUS * 16;
          to = seg + 5 * e.arg;
        } else if (e.op == SEGMENT) {
          new_flags = e.arg + active * 8 + K_SEGMENT * 16;
          to = e.arg + 5 * active;
        } else if (e.op == LEAVE) {
          new_flags = seg + active * 8 + K_MOVED_OUT * 16;
          to = 0;
          moved = true;
          moved_seg = seg;
          moved_act = active;
        } else {
          new_flags = seg + active * 8 + K_TERMINATED * 16;
          to = 0;
        }
      }
      if (outcome == APPLIED && !written) {
        call.Set(e.bucket, field, call.String(Record(new_flags, e.ts, e.idh)));
      }
    }

    if (outcome == APPLIED) {
      int& t = touched_of[e.agg];
      if (t < 0) {
        t = static_cast<int>(touched.size());
        touched.emplace_back();
        touched.back().agg = e.agg;
      }
      Touched& r = touched[t];
      if (day == first_day) {
        ++r.first[to];
        --r.first[from];
      } else {
        auto [it, inserted] = r.other_days.try_emplace(day, Counts{});
        AddState(it->second, from, -1);
        AddState(it->second, to, 1);
      }
      ++r.applied;
      if (e.ts > r.newest) r.newest = e.ts;
    }

    if (e.op == ENTER) moved = false;
    if (e.op == LEAVE && (outcome == APPLIED || outcome == DUPLICATE)) {
      outcome += moved_seg * 8 + moved_act * 64;
    }
    out[i] = static_cast<char>(outcome);
  }

  for (size_t t = 0; t < touched.size() && !malformed; ++t) {
    malformed = !UpdateAggregate(call, touched[t], first_day);
  }
  if (malformed) return api.ReplyWithError(ctx, "ERR uhc.apply_v3: a stored value is malformed");
  return api.ReplyWithStringBuffer(ctx, out.data(), out.size());
}

}  // namespace
}  // namespace uhc::redis_module

extern "C" __attribute__((visibility("default"))) int RedisModule_OnLoad(
    RedisModuleCtx* ctx, RedisModuleString** /*argv*/, int /*argc*/) {
  using namespace uhc::redis_module;
  if (Init(ctx, "uhc", 1) != kOk) return kErr;
  // Keys: from the second argument to the one before last (numkeys first, the events last).
  return api.CreateCommand(ctx, "uhc.apply_v3", Apply, "write deny-oom", 2, -2, 1);
}
