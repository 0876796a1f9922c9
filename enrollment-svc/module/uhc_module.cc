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
// index, participant field, event_time ms, event id hash, argument). It checks the whole call
// first (event layout, key indexes, argument bytes, key types) and changes nothing when any is
// wrong; a stored value found malformed later puts back the records written so far (the
// aggregates are read and checked before any is written), so a call that fails changes nothing.
// Replicas and the AOF get its writes as HSET and HDEL commands, as from the function, so only a
// primary needs the module; the keys it writes are signalled as modified and publish their keyspace
// events, as the function's are.
//
// Why: a call spends most of its Redis CPU in the Lua interpreter around the commands it issues
// (docs/BENCHMARKS.md, issue #14); here the per-event work is a few comparisons and direct hash
// lookups, with no command dispatch per event.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "enrollment-svc/module/aggregate_step.h"
#include "enrollment-svc/module/apply_v4.h"
#include "enrollment-svc/module/module_support.h"

namespace uhc::redis_module {
namespace {

// A participant record: flags, event_time ms (6 bytes), event id hash (4).
std::string Record(int flags, uint64_t ts, uint32_t idh) {
  std::string r;
  r.push_back(static_cast<char>(flags));
  PutBig(r, ts, 6);
  PutBig(r, idh, 4);
  return r;
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
    // The function keys a day in 16 bits: days from 65,536 on (the year 2149) are refused.
    if (e.ts >= kMaxDays * kDayMs - kWibMs) return "an event's event_time is past the year 2148";
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
  std::vector<char> checked(static_cast<size_t>(keys) + 1, 0);  // each key's type once
  for (const Event& e : *events) {
    for (int index : {e.agg, e.agg + 1, e.bucket}) {
      if (checked[index]) continue;
      checked[index] = 1;
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
  std::vector<Undo> undo;
  std::vector<int> prio_of(keys + 1, -1);  // aggregate key index -> 1 or 0 once read
  for (size_t i = 0; i < n; ++i) {
    Event e = events[i];
    const auto ts = static_cast<int64_t>(e.ts);
    if (ts >= day_end || ts < day_start) {
      const int64_t wib = ts + kWibMs;
      day = static_cast<int32_t>(wib / kDayMs);
      day_start = day * kDayMs - kWibMs;
      day_end = day_start + kDayMs;
      if (i == 0) first_day = day;
    }
    if (e.op == LEAVE) moved = false;
    const bool decided = e.op == ENROLL && e.arg >= PRIO_DECIDES;
    if (decided) {
      int& p = prio_of[e.agg];
      if (p < 0) {
        std::string prio;
        p = call.Get(e.agg, call.String("prio", 4), &prio) && prio == "1" ? 1 : 0;
      }
      e.arg = Seg(e.arg) + 8 * p;
    }
    int rec_active = -1;  // a decided enrolment: the status given or stored
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
    // Every record this code or the function writes has 11 bytes and a segment 1-5; anything
    // else would index the counts out of range (the function would corrupt them instead).
    if (has_rec && (rec.size() != kRecordBytes || Seg(static_cast<uint8_t>(rec[0])) < 1 ||
                    Seg(static_cast<uint8_t>(rec[0])) > 5)) {
      malformed = true;
      break;
    }
    if (has_new) {
      to = new_seg + 5 * new_active;
      new_flags = new_seg + new_active * 8 + (e.op == ENROLL ? K_ENROLLED : K_RELOCATED) * 16;
      if (!has_rec) {
        call.Set(e.bucket, field, call.String(Record(new_flags, e.ts, e.idh)));
        undo.push_back({e.bucket, field, false, {}});
        outcome = APPLIED;
        from = 0;
        written = true;
        rec_active = new_active;
      }
    }

    if (!outcome) {
      const int flags = has_rec ? static_cast<uint8_t>(rec[0]) : 0;
      const uint64_t rts = has_rec ? Big(rec.data() + 1, 6) : 0;
      const auto ridh = has_rec ? static_cast<uint32_t>(Big(rec.data() + 7, 4)) : 0u;
      if (has_rec && e.ts == rts && e.idh == ridh) {
        outcome = DUPLICATE;
        rec_active = Act(flags);
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
          rec_active = new_active;
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
        undo.push_back({e.bucket, field, has_rec, rec});
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
    } else if (decided && rec_active >= 0) {
      outcome += rec_active * 64;
    }
    out[i] = static_cast<char>(outcome);
  }

  // Every aggregate read and checked before the first is written.
  std::vector<AggregateWrite> writes(touched.size());
  for (size_t t = 0; t < touched.size() && !malformed; ++t) {
    malformed = !PlanAggregate(call, touched[t], first_day, &writes[t]);
  }
  if (malformed) {
    RollBack(call, undo);
    return api.ReplyWithError(ctx, "ERR uhc.apply_v3: a stored value is malformed");
  }
  for (const AggregateWrite& w : writes) WriteAggregate(call, w);
  return api.ReplyWithStringBuffer(ctx, out.data(), out.size());
}

// uhc.version: the calling convention this module serves (enrollment-svc refuses another).
int Version(RedisModuleCtx* ctx, RedisModuleString** /*argv*/, int argc) {
  if (argc != 1) return api.WrongArity(ctx);
  return api.ReplyWithLongLong(ctx, kModuleVersion);
}

}  // namespace
}  // namespace uhc::redis_module

extern "C" __attribute__((visibility("default"))) int RedisModule_OnLoad(
    RedisModuleCtx* ctx, RedisModuleString** /*argv*/, int /*argc*/) {
  using namespace uhc::redis_module;
  if (Init(ctx, "uhc", kModuleVersion) != kOk) return kErr;
  // Keys: from the second argument to the one before last (numkeys first, the events last).
  if (api.CreateCommand(ctx, "uhc.apply_v3", Apply, "write deny-oom", 2, -2, 1) != kOk) {
    return kErr;
  }
  // Keys: from the second argument to the fourth from last (events, destinations, fold before).
  if (api.CreateCommand(ctx, "uhc.apply_v4", ApplyV4, "write deny-oom", 2, -4, 1) != kOk) {
    return kErr;
  }
  return api.CreateCommand(ctx, "uhc.version", Version, "readonly fast", 0, 0, 0);
}
