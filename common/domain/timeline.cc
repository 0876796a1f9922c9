#include "common/domain/timeline.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace uhc::timeline {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kWibMs = 7 * 3'600'000;
constexpr size_t kEntryBytes = 11;

void PutBig(std::string* out, uint64_t value, int bytes) {
  for (int b = bytes - 1; b >= 0; --b) out->push_back(static_cast<char>((value >> (8 * b)) & 0xff));
}

uint64_t GetBig(const char* p, int bytes) {
  uint64_t value = 0;
  for (int b = 0; b < bytes; ++b) value = (value << 8) | static_cast<uint8_t>(p[b]);
  return value;
}

void PutVarint(std::string* out, uint32_t value) {
  while (value >= 128) {
    out->push_back(static_cast<char>(0x80 | (value & 0x7f)));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

bool GetVarint(absl::string_view bytes, size_t* pos, uint32_t* value) {
  uint64_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (*pos >= bytes.size()) return false;
    const auto b = static_cast<uint8_t>(bytes[(*pos)++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      if (v > UINT32_MAX) return false;
      *value = static_cast<uint32_t>(v);
      return true;
    }
  }
  return false;
}

bool ValidState(uint8_t b) { return b == 0 || ((b & 7) >= 1 && (b & 7) <= 5 && b < 16); }

bool ValidArg(uint8_t op, uint8_t arg) {
  switch (op) {
    case kEnroll:
      return arg != 0 && ValidState(arg);
    case kStatus:
      return arg <= 1;
    case kSegment:
      return arg >= 1 && arg <= 5;
    case kEnter:
      return ValidState(arg);
    case kLeave:
    case kTerminate:
      return arg == 0;
    default:
      return false;
  }
}

// One step of the fold: the state after `e` given the state before it.
State Step(State s, const Entry& e) {
  switch (e.op) {
    case kEnroll:
      return State::FromByte(e.arg);
    case kStatus:
      if (s.in()) s.active = e.arg != 0;
      return s;
    case kSegment:
      if (s.in()) s.segment = e.arg;
      return s;
    case kEnter: {
      const State carried = State::FromByte(e.arg);
      return carried.in() ? carried : s;
    }
    default:  // LEAVE, TERMINATE
      return State{};
  }
}

// Adds `sign` times each transition of `fold` (the state changing at an entry) to `net`.
void AddTransitions(const Timeline& t, const Fold& fold, int sign,
                    std::map<std::tuple<int64_t, int, int>, int>* net) {
  State before = fold.base;
  for (size_t i = 0; i < t.entries.size(); ++i) {
    const State after = fold.states[i];
    if (after != before) {
      (*net)[{WibDay(t.entries[i].occurred_at_ms), before.code(), after.code()}] += sign;
    }
    before = after;
  }
}

// The weight of an entry in the versions of the LEAVEs after it: 1, and an ENTER's upgrades (one
// more each time a larger version replaces it). A LEAVE's version, the sum of the weights at or
// before it, so grows whenever anything that its carried state depends on changes.
uint32_t Weight(const Entry& e) { return 1 + (e.op == kEnter ? e.upgrades : 0); }

uint32_t VersionOf(const Timeline& t, size_t index) {
  uint32_t version = t.folded;
  for (size_t i = 0; i <= index; ++i) version += Weight(t.entries[i]);
  return version;
}

FollowUp FollowUpOf(const Timeline& t, const Fold& fold, size_t index) {
  const Entry& e = t.entries[index];
  return FollowUp{e.to, e.occurred_at_ms, e.event_id_hash, fold.carried[index],
                  VersionOf(t, index)};
}

}  // namespace

int64_t WibDay(uint64_t ms) {
  const int64_t wib = static_cast<int64_t>(ms) + kWibMs;
  return wib >= 0 ? wib / kDayMs : -((-wib + kDayMs - 1) / kDayMs);
}

std::string Encode(const Timeline& timeline) {
  std::string out;
  out.reserve(1 + timeline.entries.size() * kEntryBytes);
  out.push_back(static_cast<char>(timeline.base.byte() | (timeline.folded > 0 ? 0x80 : 0)));
  if (timeline.folded > 0) PutVarint(&out, timeline.folded);
  for (const Entry& e : timeline.entries) EncodeEntry(e, &out);
  return out;
}

void EncodeEntry(const Entry& e, std::string* out) {
  PutBig(out, e.occurred_at_ms, 6);
  PutBig(out, e.event_id_hash, 4);
  out->push_back(static_cast<char>((e.op == kEnter ? kStoredEnter : e.op) << 4 | e.arg));
  if (e.op == kEnter) {
    PutVarint(out, e.version);
    PutVarint(out, e.upgrades);
  }
  if (e.op == kLeave) {
    out->push_back(static_cast<char>(e.to.size()));
    out->append(e.to);
  }
}

namespace {

// The header of a stored timeline: its base state and folded weight; the position after it.
bool ParseHeader(absl::string_view bytes, State* base, uint32_t* folded, size_t* pos) {
  if (bytes.empty()) return false;
  const auto header = static_cast<uint8_t>(bytes[0]);
  if (!ValidState(header & 0x7f)) return false;
  *base = State::FromByte(header & 0x7f);
  *pos = 1;
  *folded = 0;
  if (header & 0x80) return GetVarint(bytes, pos, folded) && *folded != 0;
  return true;
}

// The entry at *pos (moved past it); `legacy` set for an ENTER stored with op 5. False if
// malformed (the order of entries is the caller's to check).
bool ParseEntry(absl::string_view bytes, size_t* pos, Entry* e, bool* legacy) {
  if (bytes.size() - *pos < kEntryBytes) return false;
  const char* p = bytes.data() + *pos;
  e->occurred_at_ms = GetBig(p, 6);
  e->event_id_hash = static_cast<uint32_t>(GetBig(p + 6, 4));
  const auto code = static_cast<uint8_t>(p[10]);
  const auto stored_op = static_cast<uint8_t>(code >> 4);
  e->op = stored_op == kStoredEnter ? kEnter : stored_op;
  e->arg = code & 15;
  *pos += kEntryBytes;
  if (!ValidArg(e->op, e->arg) || e->occurred_at_ms >= kLastMs) return false;
  if (e->op == kEnter) {
    if (!GetVarint(bytes, pos, &e->version)) return false;
    e->upgrades = e->version;  // as stored by the first release of timelines (op 5)
    *legacy = *legacy || stored_op != kStoredEnter;
    if (stored_op == kStoredEnter && !GetVarint(bytes, pos, &e->upgrades)) return false;
  }
  if (e->op == kLeave) {
    if (*pos >= bytes.size()) return false;
    const auto length = static_cast<uint8_t>(bytes[(*pos)++]);
    if (length == 0 || bytes.size() - *pos < length) return false;
    e->to.assign(bytes.data() + *pos, length);  // no substr: the module links no Abseil library
    *pos += length;
  }
  return true;
}

}  // namespace

std::optional<Timeline> Decode(absl::string_view bytes) {
  Timeline t;
  size_t pos = 0;
  if (!ParseHeader(bytes, &t.base, &t.folded, &pos)) return std::nullopt;
  bool legacy = false;
  while (pos < bytes.size()) {
    Entry e;
    if (!ParseEntry(bytes, &pos, &e, &legacy)) return std::nullopt;
    if (!t.entries.empty() && !t.entries.back().Before(e)) return std::nullopt;
    t.entries.push_back(std::move(e));
  }
  return t;
}

std::optional<Summary> Summarize(absl::string_view bytes) {
  Summary s;
  size_t pos = 0;
  State base;
  if (!ParseHeader(bytes, &base, &s.weight, &pos)) return std::nullopt;
  s.now = base;
  Entry e, last;
  while (pos < bytes.size()) {
    e.to.clear();
    if (!ParseEntry(bytes, &pos, &e, &s.legacy)) return std::nullopt;
    if (s.entries > 0 && !last.Before(e)) return std::nullopt;
    if (s.entries == 0) s.first_ms = e.occurred_at_ms;
    s.now = Step(s.now, e);
    s.weight += Weight(e);
    ++s.entries;
    last.occurred_at_ms = e.occurred_at_ms;
    last.event_id_hash = e.event_id_hash;
  }
  s.last_ms = last.occurred_at_ms;
  s.last_id = last.event_id_hash;
  return s;
}

InsertResult Append(const Summary& summary, const Entry& entry, std::string* bytes) {
  InsertResult result;
  result.now_before = summary.now;
  result.now_after = Step(summary.now, entry);
  if (result.now_after != result.now_before) {
    result.changes.push_back(
        {WibDay(entry.occurred_at_ms), result.now_before.code(), result.now_after.code(), 1});
  }
  if (entry.op == kLeave) {
    result.follow_ups.push_back(FollowUp{entry.to, entry.occurred_at_ms, entry.event_id_hash,
                                         summary.now, summary.weight + 1});
  }
  Entry appended = entry;
  appended.upgrades = 0;
  EncodeEntry(appended, bytes);
  return result;
}

Fold FoldTimeline(const Timeline& timeline) {
  Fold fold;
  fold.base = timeline.base;
  fold.states.reserve(timeline.entries.size());
  fold.carried.reserve(timeline.entries.size());
  State s = timeline.base;
  for (const Entry& e : timeline.entries) {
    fold.carried.push_back(e.op == kLeave ? s : State{});
    s = Step(s, e);
    fold.states.push_back(s);
  }
  return fold;
}

InsertResult Insert(Timeline* timeline, const Entry& entry) {
  InsertResult result;
  auto& entries = timeline->entries;
  const auto at = std::lower_bound(entries.begin(), entries.end(), entry,
                                   [](const Entry& a, const Entry& b) { return a.Before(b); });
  const auto index = static_cast<size_t>(at - entries.begin());
  const Fold old_fold = FoldTimeline(*timeline);
  result.now_before = old_fold.now();
  const bool found = at != entries.end() && at->SameEvent(entry);
  if (found && !(at->op == kEnter && entry.op == kEnter && entry.version > at->version)) {
    result.outcome = Outcome::kDuplicate;
    result.now_after = result.now_before;
    for (size_t i = index; i < entries.size(); ++i) {
      if (entries[i].op == kLeave) result.follow_ups.push_back(FollowUpOf(*timeline, old_fold, i));
    }
    return result;
  }
  const Timeline old = *timeline;
  if (found) {
    at->arg = entry.arg;
    at->version = entry.version;
    ++at->upgrades;
  } else {
    entries.insert(at, entry)->upgrades = 0;
  }
  const Fold new_fold = FoldTimeline(*timeline);
  result.now_after = new_fold.now();

  std::map<std::tuple<int64_t, int, int>, int> net;
  AddTransitions(old, old_fold, -1, &net);
  AddTransitions(*timeline, new_fold, 1, &net);
  for (const auto& [key, times] : net) {
    if (times != 0)
      result.changes.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), times});
  }

  // Every LEAVE at or after the new entry: its version moved, and maybe its carried state.
  for (size_t i = index; i < entries.size(); ++i) {
    if (entries[i].op == kLeave) result.follow_ups.push_back(FollowUpOf(*timeline, new_fold, i));
  }
  return result;
}

size_t Compact(Timeline* timeline, uint64_t before_ms) {
  auto& entries = timeline->entries;
  size_t k = 0;
  State s = timeline->base;
  uint32_t weight = 0;
  while (k < entries.size() && entries[k].occurred_at_ms < before_ms) {
    weight += Weight(entries[k]);
    s = Step(s, entries[k++]);
  }
  if (k == 0) return 0;
  timeline->base = s;
  timeline->folded += weight;
  entries.erase(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(k));
  return k;
}

}  // namespace uhc::timeline
