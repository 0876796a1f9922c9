// The aggregate step of uhc.apply_v3: the part of uhc_apply_v3.lua after the per-event loop.
#include "enrollment-svc/module/aggregate_step.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace uhc::redis_module {
namespace {

// A region's first aggregate in layout 3: no counts, no events, no current day (the Lua's
// NEW_AGGREGATE).
std::string NewAggregate() {
  std::string out;
  PutCounts(out, Counts{});
  PutBig(out, 0, 6);
  PutBig(out, 0, 6);
  PutBig(out, static_cast<uint32_t>(kNoDay), 4);
  PutCounts(out, Counts{});
  return out;
}

// The HSET arguments into `args` that add each day's changes to the day hash `hist`; a day whose
// changes cancel out is left alone (the Lua's plan_days). Reads only. False if a stored day is
// shorter than 40 bytes.
bool PlanDays(Call& call, int hist, std::map<int32_t, Counts>& later,
              std::vector<RedisModuleString*>* out) {
  std::vector<RedisModuleString*>& args = *out;
  bool new_day = false;
  for (auto& [d, h] : later) {
    bool zero = true;
    for (int64_t v : h) zero = zero && v == 0;
    if (zero) continue;
    const std::string name = "d" + std::to_string(d);
    RedisModuleString* field = call.String(name);
    std::string old;
    if (api.KeyType(call.Key(hist)) == kKeyTypeHash && call.Get(hist, field, &old)) {
      if (old.size() < kCountsBytes) return false;
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
  if (args.empty()) return true;
  if (new_day) {
    args.push_back(call.String("enc", 3));
    args.push_back(call.String(kEnc, sizeof(kEnc) - 1));
  }
  return true;
}

}  // namespace

bool PlanAggregate(Call& call, Touched& r, int32_t first_day, AggregateWrite* w) {
  w->agg = r.agg;
  RedisModuleString* c_field = call.String("c", 1);
  std::string packed;
  const bool has_c =
      api.KeyType(call.Key(r.agg)) == kKeyTypeHash && call.Get(r.agg, c_field, &packed);
  if (!has_c) {
    // A new aggregate; one of layout 1 (named counts) was not migrated: refused, not misread
    // (enrollment-svc moves every aggregate to layout 3 when it starts).
    std::string part;
    if (api.KeyType(call.Key(r.agg)) == kKeyTypeHash &&
        call.Get(r.agg, call.String("part", 4), &part)) {
      return false;
    }
    packed = NewAggregate();
  } else if (packed.size() != kLayout3Bytes) {
    return false;  // layout 2, not migrated, or damaged
  }
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
    bool has_began = false;
    Counts began{};
    std::map<int32_t, Counts> later;
    const int32_t newest_day = by_day.empty() ? kNoDay : by_day.rbegin()->first;
    if (newest_day > t) {  // the current day is over: its changes go to the day hash
      if (t != kNoDay) {
        Counts was = DecodeCounts(tail.data());
        for (int s = 0; s < 10; ++s) was[s] = v[s] - was[s];
        later[t] = was;
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
    }
    if (has_began) {
      tail.clear();
      PutCounts(tail, began);
    }
    if (!later.empty() && !PlanDays(call, r.agg + 1, later, &w->days)) return false;
  }
  applied += r.applied;
  if (r.newest > newest) newest = r.newest;
  std::string out;
  PutCounts(out, v);
  PutBig(out, static_cast<uint64_t>(applied), 6);
  PutBig(out, newest, 6);
  PutBig(out, static_cast<uint32_t>(day), 4);
  out += tail;
  w->c = call.String(out);
  return true;
}

void WriteAggregate(Call& call, const AggregateWrite& w) {
  if (!w.days.empty()) call.Command("HSET", w.agg + 1, w.days);
  call.Set(w.agg, call.String("c", 1), w.c);
}

}  // namespace uhc::redis_module
