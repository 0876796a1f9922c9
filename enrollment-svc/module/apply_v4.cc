#include "enrollment-svc/module/apply_v4.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/domain/timeline.h"
#include "enrollment-svc/module/aggregate_step.h"
#include "enrollment-svc/module/module_support.h"

namespace uhc::redis_module {
namespace {

namespace tl = ::uhc::timeline;

constexpr size_t kEventBytesV4 = 28;

struct EventV4 {
  Event e;
  bool decided = false;
  uint32_t extra = 0;
};

bool ValidState(int b) { return b == 0 || (b < 16 && Seg(b) >= 1 && Seg(b) <= 5); }

bool ValidArg(int op, int arg) {
  switch (op) {
    case ENROLL:
      return arg != 0 && ValidState(arg);
    case STATUS:
      return arg <= 1;
    case SEGMENT:
      return arg >= 1 && arg <= 5;
    case ENTER:
      return ValidState(arg);
    default:
      return arg == 0;  // LEAVE, TERMINATE
  }
}

// A stored value as a timeline: an 11-byte uhc_apply_v3 record is its last event (an ENROLL of
// its state if live, else a TERMINATE); nullopt if malformed.
std::optional<tl::Timeline> ReadTimeline(const std::string& rec) {
  if (rec.size() != kRecordBytes) return tl::Decode(rec);
  const int flags = static_cast<uint8_t>(rec[0]);
  if (Seg(flags) < 1 || Seg(flags) > 5) return std::nullopt;
  tl::Timeline t;
  tl::Entry e;
  e.occurred_at_ms = Big(rec.data() + 1, 6);
  e.event_id_hash = static_cast<uint32_t>(Big(rec.data() + 7, 4));
  e.op = Live(flags) ? tl::kEnroll : tl::kTerminate;
  e.arg = Live(flags) ? static_cast<uint8_t>(Seg(flags) + 8 * Act(flags)) : 0;
  t.entries.push_back(e);
  return t;
}

// What is wrong with the call, or "" (nothing is changed when something is).
std::string Check(Call& call, const char* s, size_t n, int keys, size_t destinations,
                  std::vector<EventV4>* events) {
  events->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const char* p = s + i * kEventBytesV4;
    EventV4 v{Event{static_cast<uint8_t>(p[0]), static_cast<int>(Big(p + 1, 2)),
                    static_cast<int>(Big(p + 3, 2)), static_cast<uint8_t>(p[23]), p + 5,
                    Big(p + 13, 6), static_cast<uint32_t>(Big(p + 19, 4))},
              false, static_cast<uint32_t>(Big(p + 24, 4))};
    Event& e = v.e;
    if (e.op < ENROLL || e.op > TERMINATE || e.agg < 1 || e.agg + 1 > keys || e.bucket < 1 ||
        e.bucket > keys) {
      return "an operation or key index out of range";
    }
    v.decided = e.op == ENROLL && e.arg >= PRIO_DECIDES;
    if (v.decided) e.arg -= PRIO_DECIDES;
    if (e.op == LEAVE || e.op == TERMINATE) e.arg = 0;
    if (e.ts >= tl::kLastMs || !ValidArg(e.op, e.arg)) {
      return "an argument byte or event_time out of range";
    }
    if (e.op == LEAVE && (v.extra < 1 || v.extra > destinations)) {
      return "a destination index out of range";
    }
    events->push_back(v);
  }
  std::unordered_set<std::string_view> names;
  for (int index = 1; index <= keys; ++index) {
    size_t length = 0;
    const char* name = api.StringPtrLen(call.Name(index), &length);
    if (!names.emplace(name, length).second) return "a key is named twice";
  }
  std::vector<char> checked(static_cast<size_t>(keys) + 1, 0);
  for (const EventV4& v : *events) {
    for (int index : {v.e.agg, v.e.agg + 1, v.e.bucket}) {
      if (checked[index]) continue;
      checked[index] = 1;
      const int type = api.KeyType(call.Key(index));
      if (type != kKeyTypeEmpty && type != kKeyTypeHash) return "WRONGTYPE";
    }
  }
  return "";
}

int Error(RedisModuleCtx* ctx, const std::string& what) {
  if (what == "WRONGTYPE") {
    return api.ReplyWithError(ctx,
                              "WRONGTYPE Operation against a key holding the wrong kind of value");
  }
  return api.ReplyWithError(ctx, ("ERR uhc.apply_v4: " + what).c_str());
}

}  // namespace

int ApplyV4(RedisModuleCtx* ctx, RedisModuleString** argv, int argc) {
  if (argc < 5) return api.WrongArity(ctx);
  size_t length = 0;
  const char* numkeys = api.StringPtrLen(argv[1], &length);
  char* end = nullptr;
  const long keys = std::strtol(numkeys, &end, 10);
  if (length == 0 || *end != '\0' || keys < 0 || keys != argc - 5) {
    return Error(ctx, "numkeys does not match the arguments");
  }
  size_t fold_length = 0;
  const char* fold_text = api.StringPtrLen(argv[argc - 1], &fold_length);
  // Digits only, as the function's pattern ^%d+$ (strtoll would take signs and spaces).
  long long fold_before = 0;
  bool digits = fold_length > 0 && fold_length <= 18;
  for (size_t k = 0; digits && k < fold_length; ++k) {
    digits = fold_text[k] >= '0' && fold_text[k] <= '9';
    fold_before = fold_before * 10 + (fold_text[k] - '0');
  }
  if (!digits) return Error(ctx, "fold before is not a number of ms");
  const char* s = api.StringPtrLen(argv[argc - 3], &length);
  if (length % kEventBytesV4 != 0) return Error(ctx, "the events are not 28 bytes each");
  const size_t n = length / kEventBytesV4;
  size_t dest_length = 0;
  const char* d = api.StringPtrLen(argv[argc - 2], &dest_length);
  std::vector<std::string> destinations;
  for (size_t p = 0; p < dest_length;) {
    const size_t l = static_cast<uint8_t>(d[p]);
    if (l == 0 || dest_length - p - 1 < l) {
      return Error(ctx, "malformed destinations");
    }
    destinations.emplace_back(d + p + 1, l);
    p += 1 + l;
  }
  Call call(ctx, argv, static_cast<int>(keys));
  std::vector<EventV4> events;
  if (std::string wrong = Check(call, s, n, static_cast<int>(keys), destinations.size(), &events);
      !wrong.empty()) {
    return Error(ctx, wrong);
  }

  std::vector<int> touched_of(keys + 1, -1);
  std::vector<Touched> touched;
  std::string out(n, '\0');
  std::string follow_ups;
  int32_t first_day = 0;
  bool malformed = false;
  std::vector<Undo> undo;
  std::vector<int> prio_of(keys + 1, -1);
  for (size_t i = 0; i < n; ++i) {
    EventV4& v = events[i];
    Event& e = v.e;
    const auto day = static_cast<int32_t>(tl::WibDay(e.ts));
    if (i == 0) first_day = day;
    if (v.decided) {
      int& p = prio_of[e.agg];
      if (p < 0) {
        std::string prio;
        p = call.Get(e.agg, call.String("prio", 4), &prio) && prio == "1" ? 1 : 0;
      }
      e.arg = Seg(e.arg) + 8 * p;
    }
    RedisModuleString* field = call.String(e.field, kFieldBytes);
    std::string rec;
    const bool has_rec = call.Get(e.bucket, field, &rec);
    const tl::Entry entry{e.ts,
                          e.idh,
                          static_cast<uint8_t>(e.op),
                          static_cast<uint8_t>(e.arg),
                          e.op == ENTER ? v.extra : 0,
                          e.op == LEAVE ? destinations[v.extra - 1] : std::string()};
    // A new participant's ENROLL or ENTER is written as it is (the function's HSETNX).
    const bool inserted_new = !has_rec && (e.op == ENROLL || e.op == ENTER);
    // The append (an event after every entry, nothing to fold: nearly all) changes the stored
    // bytes by adding its own; anything else rebuilds the timeline.
    std::optional<tl::Summary> summary;
    if (!has_rec) {
      summary = tl::Summary{};
    } else if (rec.size() != kRecordBytes) {
      summary = tl::Summarize(rec);
      if (!summary) {
        malformed = true;
        break;
      }
    }
    const uint64_t first_ms = summary && summary->entries > 0 ? summary->first_ms : e.ts;
    const bool append =
        summary && !summary->legacy && summary->After(entry) &&
        (inserted_new || fold_before <= 0 || first_ms >= static_cast<uint64_t>(fold_before));
    int rec_active = Act(e.arg);
    int outcome = APPLIED;
    tl::InsertResult r;
    if (append) {
      std::string value = has_rec ? rec : std::string(1, '\0');
      r = tl::Append(*summary, entry, &value);
      call.Set(e.bucket, field, call.String(value));
    } else {
      std::optional<tl::Timeline> t = has_rec ? ReadTimeline(rec) : tl::Timeline{};
      if (!t) {
        malformed = true;
        break;
      }
      const auto same = std::find_if(t->entries.begin(), t->entries.end(),
                                     [&](const tl::Entry& x) { return x.SameEvent(entry); });
      const bool was_enroll = same != t->entries.end() && same->op == tl::kEnroll;
      const int stored_active = was_enroll ? Act(same->arg) : 0;
      r = tl::Insert(&*t, entry);
      if (r.outcome == tl::Outcome::kDuplicate) {
        outcome = DUPLICATE;
        rec_active = stored_active;
      } else {
        if (fold_before > 0 && !inserted_new) {
          tl::Compact(&*t, static_cast<uint64_t>(fold_before));
        }
        call.Set(e.bucket, field, call.String(tl::Encode(*t)));
      }
    }
    if (outcome == APPLIED) {
      undo.push_back({e.bucket, field, has_rec, std::move(rec)});
      int& ti = touched_of[e.agg];
      if (ti < 0) {
        ti = static_cast<int>(touched.size());
        touched.emplace_back();
        touched.back().agg = e.agg;
      }
      Touched& a = touched[ti];
      for (const tl::Change& c : r.changes) {
        if (c.day == first_day) {
          a.first[c.to] += c.times;
          a.first[c.from] -= c.times;
        } else {
          Counts& h = a.other_days.try_emplace(static_cast<int32_t>(c.day), Counts{}).first->second;
          AddState(h, c.from, -c.times);
          AddState(h, c.to, c.times);
        }
      }
      ++a.applied;
      if (e.ts > a.newest) a.newest = e.ts;
    }
    for (const tl::FollowUp& f : r.follow_ups) {
      PutBig(follow_ups, i, 4);
      PutBig(follow_ups, f.occurred_at_ms, 6);
      PutBig(follow_ups, f.event_id_hash, 4);
      follow_ups.push_back(static_cast<char>(f.carried.byte()));
      PutBig(follow_ups, f.version, 4);
      follow_ups.push_back(static_cast<char>(f.to.size()));
      follow_ups += f.to;
    }
    out[i] = static_cast<char>(v.decided ? outcome + rec_active * 64 : outcome);
  }

  std::vector<AggregateWrite> writes(touched.size());
  for (size_t t = 0; t < touched.size() && !malformed; ++t) {
    malformed = !PlanAggregate(call, touched[t], first_day, &writes[t]);
  }
  if (malformed) {
    RollBack(call, undo);
    return Error(ctx, "a stored value is malformed");
  }
  for (const AggregateWrite& w : writes) WriteAggregate(call, w);
  out += follow_ups;
  return api.ReplyWithStringBuffer(ctx, out.data(), out.size());
}

}  // namespace uhc::redis_module
