#include "common/redis/schema.h"

#include <hiredis/hiredis.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/domain/policy.h"
#include "common/domain/timeline.h"

namespace uhc {

std::string AggregateKey(absl::string_view region_code) {
  return absl::StrCat("uhc:{", region_code, "}:agg");
}

std::string EnrollRequestKey(absl::string_view request_id) {
  return absl::StrCat("uhc:enroll:", request_id);
}

std::string BucketKey(absl::string_view region_code, uint32_t bucket) {
  return absl::StrFormat("uhc:{%s}:p:%x", region_code, bucket);
}

std::string BucketKeyPattern() { return "uhc:{*}:p:*"; }

std::string RegionOfKey(absl::string_view key) {
  if (!absl::ConsumePrefix(&key, "uhc:{")) return "";
  size_t close = key.find('}');
  if (close == absl::string_view::npos) return "";
  absl::string_view rest = key.substr(close + 1);
  if (rest != ":agg" && !absl::StartsWith(rest, ":p:")) return "";
  return std::string(key.substr(0, close));
}

std::string DaysKey(absl::string_view region_code) {
  return absl::StrCat("uhc:{", region_code, "}:days");
}
std::string SettingsKey(absl::string_view region_code) {
  return absl::StrCat("uhc:{", region_code, "}:settings");
}
std::string CutoffIndexKey() { return "uhc:{cutoffs}:index"; }
std::string CutoffDataKey(absl::string_view id) { return absl::StrCat("uhc:{cutoffs}:data:", id); }

std::string RecordedTiersKey() { return "uhc:{tiers}:recorded"; }
std::string TierHistoryKey(absl::string_view region) {
  return absl::StrCat("uhc:{tiers}:history:", region);
}
std::string TierLogKey() { return "uhc:{tiers}:log"; }
std::string TierLogTrimmedKey() { return "uhc:{tiers}:trimmed"; }
std::string V1TierKey(absl::string_view region) { return absl::StrCat("uhc:{", region, "}:tier"); }
std::string V1HistoryKey(absl::string_view region) {
  return absl::StrCat("uhc:{", region, "}:history");
}

std::string EncodeRecord(const ParticipantRecord& r) {
  std::string out(kRecordBytes, '\0');
  out[0] = static_cast<char>((r.segment & 7) | (r.active ? 8 : 0) |
                             ((static_cast<int>(r.kind) & 7) << 4));
  for (int i = 0; i < 6; ++i) out[1 + i] = static_cast<char>(r.occurred_at_ms >> (8 * (5 - i)));
  for (int i = 0; i < 4; ++i) out[7 + i] = static_cast<char>(r.event_id_hash >> (8 * (3 - i)));
  return out;
}

std::optional<ParticipantRecord> DecodeStoredParticipant(absl::string_view bytes) {
  if (bytes.size() == kRecordBytes) return DecodeRecord(bytes);
  const std::optional<timeline::Timeline> t = timeline::Decode(bytes);
  if (!t) return std::nullopt;
  ParticipantRecord r;
  r.kind = RecordKind::kPending;
  timeline::State state = t->base, last_in = t->base;
  const timeline::Fold fold = timeline::FoldTimeline(*t);
  for (size_t i = 0; i < t->entries.size(); ++i) {
    const timeline::Entry& e = t->entries[i];
    state = fold.states[i];
    if (state.in()) last_in = state;
    r.occurred_at_ms = e.occurred_at_ms;
    r.event_id_hash = e.event_id_hash;
  }
  if (state.in()) {
    static constexpr RecordKind kKindOf[] = {
        RecordKind::kEnrolled,       RecordKind::kEnrolled, RecordKind::kStatusChanged,
        RecordKind::kSegmentChanged, RecordKind::kMovedOut, RecordKind::kRelocated,
        RecordKind::kTerminated};
    r.kind = t->entries.empty() ? RecordKind::kEnrolled : kKindOf[t->entries.back().op];
  } else if (last_in.in()) {
    size_t exit = 0;  // the entry that last took the participant out
    timeline::State before = t->base;
    for (size_t i = 0; i < t->entries.size(); ++i) {
      if (before.in() && !fold.states[i].in()) exit = i;
      before = fold.states[i];
    }
    r.kind =
        t->entries[exit].op == timeline::kLeave ? RecordKind::kMovedOut : RecordKind::kTerminated;
  }
  const timeline::State shown = state.in() ? state : last_in;
  r.segment = shown.segment;
  r.active = shown.in() && shown.active;
  return r;
}

std::optional<ParticipantRecord> DecodeRecord(absl::string_view bytes) {
  if (bytes.size() != kRecordBytes) return std::nullopt;
  const auto flags = static_cast<uint8_t>(bytes[0]);
  const int kind = (flags >> 4) & 7;
  if (kind < 1 || kind > 6) return std::nullopt;
  ParticipantRecord r;
  r.segment = flags & 7;
  r.active = (flags & 8) != 0;
  r.kind = static_cast<RecordKind>(kind);
  for (int i = 1; i <= 6; ++i)
    r.occurred_at_ms = (r.occurred_at_ms << 8) | static_cast<uint8_t>(bytes[i]);
  for (int i = 7; i <= 10; ++i)
    r.event_id_hash = (r.event_id_hash << 8) | static_cast<uint8_t>(bytes[i]);
  return r;
}

namespace agg {
std::string ParticipantsOf(int segment) { return absl::StrCat("n", segment); }
std::string ActiveOf(int segment) { return absl::StrCat("a", segment); }
}  // namespace agg

namespace {
int64_t BigEndian(absl::string_view bytes) {
  uint64_t v = 0;
  for (char b : bytes) v = (v << 8) | static_cast<uint8_t>(b);
  return static_cast<int64_t>(v);
}
int64_t Signed32(absl::string_view bytes) {
  return static_cast<int32_t>(static_cast<uint32_t>(BigEndian(bytes)));
}
}  // namespace

std::optional<PackedAggregate> UnpackAggregate(absl::string_view c) {
  if (c.size() != 96) return std::nullopt;
  PackedAggregate p;
  for (int i = 0; i < 10; ++i) p.counts[i] = Signed32(c.substr(4 * i, 4));
  p.applied = BigEndian(c.substr(40, 6));
  p.newest_event_ms = BigEndian(c.substr(46, 6));
  const int64_t day = Signed32(c.substr(52, 4));
  if (day >= 0) p.current_day = day;
  for (int i = 0; i < 10; ++i) {  // the counts minus those the day began with
    p.current_changes[i] = p.counts[i] - Signed32(c.substr(56 + 4 * i, 4));
  }
  return p;
}

std::map<std::string, int64_t> AggregateFields(const redisReply* reply) {
  std::map<std::string, int64_t> out;
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return out;
  std::optional<PackedAggregate> packed;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    std::string name(reply->element[i]->str, reply->element[i]->len);
    absl::string_view text(reply->element[i + 1]->str, reply->element[i + 1]->len);
    if (name == agg::kPackedCounts) {
      if (std::optional<PackedAggregate> p = UnpackAggregate(text)) packed = *p;
      continue;
    }
    int64_t value = 0;
    (void)absl::SimpleAtoi(text, &value);
    out.emplace(std::move(name), value);
  }
  if (packed) {
    out[agg::kParticipants] = out[agg::kActive] = 0;
    for (int s = 1; s <= 5; ++s) {
      out[agg::ParticipantsOf(s)] = packed->counts[s - 1];
      out[agg::ActiveOf(s)] = packed->counts[s + 4];
      out[agg::kParticipants] += packed->counts[s - 1];
      out[agg::kActive] += packed->counts[s + 4];
    }
    out[agg::kVersion] += packed->applied;
    if (packed->newest_event_ms > 0) out[agg::kNewestEvent] = packed->newest_event_ms;
  }
  return out;
}

RegionAggregate ParseAggregate(const redisReply* reply) {
  RegionAggregate a;
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return a;
  absl::string_view packed;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    absl::string_view name(reply->element[i]->str, reply->element[i]->len);
    absl::string_view text(reply->element[i + 1]->str, reply->element[i + 1]->len);
    int64_t value = 0;
    (void)absl::SimpleAtoi(text, &value);
    if (name == agg::kPopulation) {
      a.counts.population = value;
    } else if (name == agg::kVersion) {
      a.version = value;
    } else if (name == agg::kPrioritas) {
      a.counts.uhc_prioritas = value == 1;
    } else if (name == agg::kDuesPaidThrough) {
      a.counts.dues_paid_through = ParseYearMonth(std::string(text));
    } else if (name == agg::kPackedCounts) {
      packed = text;
    }
  }
  if (std::optional<PackedAggregate> p = UnpackAggregate(packed)) {
    for (int s = 1; s <= 5; ++s) {
      a.counts.participants[s] = p->counts[s - 1];
      a.counts.active[s] = p->counts[s + 4];
    }
    a.version += p->applied;
  }
  return a;
}

namespace apply_abi {
void AppendEventArgV4(std::string* out, uint8_t op, uint16_t aggregate_key, uint16_t bucket_key,
                      absl::string_view field, uint64_t occurred_at_ms, uint32_t event_id_hash,
                      uint8_t arg, std::optional<uint32_t> extra) {
  const size_t at = out->size();
  out->resize(at + (extra ? kEventArgBytesV4 : kEventArgBytes), '\0');
  char* a = out->data() + at;
  a[0] = static_cast<char>(op);
  a[1] = static_cast<char>(aggregate_key >> 8);
  a[2] = static_cast<char>(aggregate_key);
  a[3] = static_cast<char>(bucket_key >> 8);
  a[4] = static_cast<char>(bucket_key);
  for (size_t i = 0; i < 8 && i < field.size(); ++i) a[5 + i] = field[i];
  for (int i = 0; i < 6; ++i) a[13 + i] = static_cast<char>(occurred_at_ms >> (8 * (5 - i)));
  for (int i = 0; i < 4; ++i) a[19 + i] = static_cast<char>(event_id_hash >> (8 * (3 - i)));
  a[23] = static_cast<char>(arg);
  if (extra) {
    for (int i = 0; i < 4; ++i) a[24 + i] = static_cast<char>(*extra >> (8 * (3 - i)));
  }
}

std::string EncodeEventArg(uint8_t op, uint16_t aggregate_key, uint16_t bucket_key,
                           absl::string_view field, uint64_t occurred_at_ms, uint32_t event_id_hash,
                           uint8_t arg) {
  std::string a;
  AppendEventArgV4(&a, op, aggregate_key, bucket_key, field, occurred_at_ms, event_id_hash, arg,
                   std::nullopt);
  return a;
}

std::string EncodeEventArgV4(uint8_t op, uint16_t aggregate_key, uint16_t bucket_key,
                             absl::string_view field, uint64_t occurred_at_ms,
                             uint32_t event_id_hash, uint8_t arg, uint32_t extra) {
  std::string a;
  AppendEventArgV4(&a, op, aggregate_key, bucket_key, field, occurred_at_ms, event_id_hash, arg,
                   extra);
  return a;
}
}  // namespace apply_abi

}  // namespace uhc
