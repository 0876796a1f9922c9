#include "common/redis/history.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/domain/errors.h"
#include "common/domain/policy.h"
#include "common/domain/text.h"

namespace uhc {

extern const char kCutoffCreateLua[];  // cutoff_create.lua, embedded at build time

namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kWibOffsetMs = 7 * 3'600'000;
const absl::CivilDay kEpoch(1970, 1, 1);

bool UnpackTen(absl::string_view packed, std::array<int64_t, 10>* out) {
  if (packed.size() != 40) return false;
  for (int i = 0; i < 10; ++i) {
    uint32_t v = 0;
    for (int b = 0; b < 4; ++b) v = (v << 8) | static_cast<uint8_t>(packed[4 * i + b]);
    (*out)[i] = static_cast<int32_t>(v);
  }
  return true;
}

absl::string_view Text(const redisReply* r) { return absl::string_view(r->str, r->len); }

// Calls f(name, value) for each field of an HGETALL reply.
template <typename F>
void ForEachField(const redisReply* reply, F f) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    f(Text(reply->element[i]), Text(reply->element[i + 1]));
  }
}

void PutInt(std::string* out, int64_t v) {
  for (int i = 7; i >= 0; --i)
    out->push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
}

bool GetInt(absl::string_view* in, int64_t* v) {
  if (in->size() < 8) return false;
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(8);
  *v = static_cast<int64_t>(u);
  return true;
}

}  // namespace

int64_t WibDayOfMillis(int64_t unix_ms) {
  const int64_t shifted = unix_ms + kWibOffsetMs;
  return shifted >= 0 ? shifted / kDayMs : -((-shifted + kDayMs - 1) / kDayMs);
}
absl::CivilDay CivilDayOf(int64_t day_number) { return kEpoch + day_number; }
int64_t DayNumberOf(absl::CivilDay day) { return day - kEpoch; }
absl::CivilDay WibToday(absl::Time now) {
  return CivilDayOf(WibDayOfMillis(absl::ToUnixMillis(now)));
}

std::optional<absl::CivilDay> ParseDate(absl::string_view text) {
  absl::CivilDay day;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !absl::ParseCivilTime(text, &day) ||
      FormatDate(day) != text) {
    return std::nullopt;  // "2026-02-31" parses, and normalises to March: not a real date
  }
  return day;
}

std::string FormatDate(absl::CivilDay day) { return absl::FormatCivilTime(day); }

RegionCounts RegionHistory::On(absl::CivilDay day) const { return OnEach({day}).front(); }

std::vector<RegionCounts> RegionHistory::OnEach(const std::vector<absl::CivilDay>& on) const {
  std::vector<RegionCounts> out(on.size());
  std::array<int64_t, 10> later{};  // the changes after the day being answered
  auto next = days.rbegin();
  for (size_t i = on.size(); i-- > 0;) {
    const int64_t day = DayNumberOf(on[i]);
    for (; next != days.rend() && next->first > day; ++next) {
      for (int k = 0; k < 10; ++k) later[k] += next->second[k];
    }
    out[i] = Figures(on[i], later);
  }
  return out;
}

RegionCounts RegionHistory::Figures(absl::CivilDay day,
                                    const std::array<int64_t, 10>& later) const {
  RegionCounts c = live.counts;
  for (int s = 1; s <= 5; ++s) {
    c.participants[s] = std::max<int64_t>(0, SaturatingSub(c.participants[s], later[s - 1]));
    c.active[s] = std::max<int64_t>(0, SaturatingSub(c.active[s], later[s + 4]));
  }
  const std::string date = FormatDate(day);
  if (!population.empty()) {
    auto it = population.upper_bound(date);  // first as_of after the day
    c.population = it == population.begin() ? 0 : std::prev(it)->second;
  }
  if (!status.empty()) {
    auto it = status.upper_bound(date);
    Status in_force = it == status.begin() ? Status{} : std::prev(it)->second;
    c.uhc_prioritas = in_force.uhc_prioritas;
    c.dues_paid_through = in_force.dues_paid_through;
  }
  return c;
}

bool RegionHistory::Trimmed(absl::CivilDay day) const {
  return kept_from.has_value() && DayNumberOf(day) < *kept_from;
}

RegionHistory ParseHistory(const redisReply* aggregate, const redisReply* days,
                           const redisReply* settings) {
  RegionHistory h;
  h.live = ParseAggregate(aggregate);
  // The current day's changes ride in the aggregate's `c`.
  std::optional<int64_t> current_day;
  std::array<int64_t, 10> current{};
  bool has_current = false;
  ForEachField(aggregate, [&](absl::string_view name, absl::string_view value) {
    if (name == agg::kPackedCounts) {
      std::optional<PackedAggregate> p = UnpackAggregate(value);
      if (p && p->current_day) {
        current_day = p->current_day;
        current = p->current_changes;
        has_current = true;
      }
    }
  });
  ForEachField(days, [&](absl::string_view name, absl::string_view value) {
    int64_t n = 0;
    if (name == "from") {
      if (absl::SimpleAtoi(value, &n)) h.kept_from = n;
      return;
    }
    std::array<int64_t, 10> delta;
    if (name.size() > 1 && name[0] == 'd' && absl::SimpleAtoi(name.substr(1), &n) &&
        UnpackTen(value, &delta)) {
      h.days[n] = delta;
    }
  });
  if (current_day && has_current) {
    std::array<int64_t, 10>& day = h.days[*current_day];  // zero if the day hash has none
    for (int i = 0; i < 10; ++i) day[i] += current[i];
  }
  ForEachField(settings, [&](absl::string_view name, absl::string_view value) {
    if (name.size() != 11 || !ParseDate(name.substr(1))) return;
    const std::string date(name.substr(1));
    if (name[0] == 'p') {
      int64_t figure = 0;
      if (absl::SimpleAtoi(value, &figure)) h.population[date] = figure;
    } else if (name[0] == 's') {
      std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(value, '|');
      RegionHistory::Status s;
      s.uhc_prioritas = parts.first == "1";
      s.dues_paid_through = parts.second.empty() ? 0 : ParseYearMonth(std::string(parts.second));
      h.status[date] = s;
    }
  });
  return h;
}

absl::StatusOr<std::map<std::string, RegionHistory, std::less<>>> ReadHistories(
    RedisClient& redis, const std::vector<std::string>& codes) {
  std::vector<std::string> keys;
  keys.reserve(3 * codes.size());
  for (const std::string& code : codes) {
    keys.push_back(AggregateKey(code));
    keys.push_back(DaysKey(code));
    keys.push_back(SettingsKey(code));
  }
  RedisCommands commands;
  commands.reserve(keys.size());
  for (const std::string& k : keys) commands.push_back({"HGETALL", k});
  absl::StatusOr<std::vector<ReplyPtr>> replies = redis.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  std::map<std::string, RegionHistory, std::less<>> out;
  for (size_t i = 0; i < codes.size(); ++i) {
    for (int k = 0; k < 3; ++k) {
      if (absl::Status s = ReplyStatus((*replies)[3 * i + k].get()); !s.ok()) return s;
    }
    out[codes[i]] = ParseHistory((*replies)[3 * i].get(), (*replies)[3 * i + 1].get(),
                                 (*replies)[3 * i + 2].get());
  }
  return out;
}

// Per region: code length (1 byte), code, version, population, n1..n5, a1..a5, prioritas, dues,
// each as 8-byte big-endian integers.
std::string EncodeFrozen(const std::map<std::string, RegionAggregate, std::less<>>& figures) {
  std::string out = "F1";
  for (const auto& [code, a] : figures) {
    out.push_back(static_cast<char>(code.size()));
    out += code;
    PutInt(&out, a.version);
    PutInt(&out, a.counts.population);
    for (int s = 1; s <= 5; ++s) PutInt(&out, a.counts.participants[s]);
    for (int s = 1; s <= 5; ++s) PutInt(&out, a.counts.active[s]);
    PutInt(&out, a.counts.uhc_prioritas ? 1 : 0);
    PutInt(&out, a.counts.dues_paid_through);
  }
  return out;
}

std::optional<std::map<std::string, RegionAggregate, std::less<>>> DecodeFrozen(
    absl::string_view in) {
  if (in.substr(0, 2) != "F1") return std::nullopt;
  in.remove_prefix(2);
  std::map<std::string, RegionAggregate, std::less<>> out;
  while (!in.empty()) {
    const size_t len = static_cast<uint8_t>(in[0]);
    if (in.size() < 1 + len) return std::nullopt;
    std::string code(in.substr(1, len));
    in.remove_prefix(1 + len);
    RegionAggregate a;
    int64_t prio = 0, dues = 0;
    bool ok = GetInt(&in, &a.version) && GetInt(&in, &a.counts.population);
    for (int s = 1; s <= 5; ++s) ok = ok && GetInt(&in, &a.counts.participants[s]);
    for (int s = 1; s <= 5; ++s) ok = ok && GetInt(&in, &a.counts.active[s]);
    ok = ok && GetInt(&in, &prio) && GetInt(&in, &dues);
    if (!ok) return std::nullopt;
    a.counts.uhc_prioritas = prio == 1;
    a.counts.dues_paid_through = static_cast<int>(dues);
    out[std::move(code)] = a;
  }
  return out;
}

absl::StatusOr<std::vector<v1::Cutoff>> ReadCutoffs(RedisClient& redis) {
  absl::StatusOr<std::vector<ReplyPtr>> r = redis.Pipeline({{"HGETALL", CutoffIndexKey()}});
  if (!r.ok()) return r.status();
  if (absl::Status s = ReplyStatus(r->front().get()); !s.ok()) return s;
  std::vector<v1::Cutoff> out;
  absl::Status bad;
  ForEachField(r->front().get(), [&](absl::string_view, absl::string_view value) {
    v1::Cutoff c;
    if (!c.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      bad = absl::InternalError("malformed cut-off record");
    }
    out.push_back(std::move(c));
  });
  if (!bad.ok()) return bad;
  std::sort(out.begin(), out.end(), [](const v1::Cutoff& a, const v1::Cutoff& b) {
    const auto at = std::make_pair(a.create_time().seconds(), a.create_time().nanos());
    const auto bt = std::make_pair(b.create_time().seconds(), b.create_time().nanos());
    return at != bt ? at < bt : a.cutoff_id() < b.cutoff_id();
  });
  return out;
}

absl::StatusOr<FrozenCutoff> ReadCutoff(RedisClient& redis, const std::string& id) {
  absl::StatusOr<std::vector<ReplyPtr>> r =
      redis.Pipeline({{"HGET", CutoffIndexKey(), id}, {"GET", CutoffDataKey(id)}});
  if (!r.ok()) return r.status();
  for (const ReplyPtr& reply : *r) {
    if (absl::Status s = ReplyStatus(reply.get()); !s.ok()) return s;
  }
  const redisReply* meta = (*r)[0].get();
  const redisReply* data = (*r)[1].get();
  if (meta->type != REDIS_REPLY_STRING) {
    return NotFound(reason::kCutoffNotFound, {"uhc.v1.Cutoff", Clip(id)},
                    absl::StrCat("no cut-off '", Clip(id), "' (uhcctl cutoff list shows them)"));
  }
  if (data->type != REDIS_REPLY_STRING) {
    return NotFound(
        reason::kCutoffNotFound, {"uhc.v1.Cutoff", Clip(id)},
        absl::StrCat(
            "cut-off '", Clip(id),
            "' is listed without its figures (left by an earlier release when Redis refused a "
            "write): CreateCutoff with the same id and date completes it"));
  }
  FrozenCutoff out;
  std::optional<std::map<std::string, RegionAggregate, std::less<>>> figures =
      DecodeFrozen(Text(data));
  if (!out.meta.ParseFromArray(meta->str, static_cast<int>(meta->len)) || !figures) {
    return absl::InternalError("malformed cut-off record");
  }
  out.figures = *std::move(figures);
  return out;
}

namespace {

// The index entry `record` as a Cutoff, if it is the cut-off `wanted` asks for (the same date).
absl::StatusOr<v1::Cutoff> SameCutoff(absl::string_view record, const v1::Cutoff& wanted) {
  v1::Cutoff out;
  if (!out.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return absl::InternalError("malformed cut-off record");
  }
  if (out.as_of_date() != wanted.as_of_date()) {
    return AlreadyExists(
        reason::kCutoffExists, {"uhc.v1.Cutoff", Clip(wanted.cutoff_id())},
        absl::StrCat("cut-off '", Clip(wanted.cutoff_id()), "' exists as of ", out.as_of_date(),
                     "; a cut-off never changes: choose another id"));
  }
  return out;
}

const std::string& CutoffScriptSha() {
  static const std::string* const sha = [] {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(kCutoffCreateLua), std::strlen(kCutoffCreateLua),
         digest);
    return new std::string(absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest))));
  }();
  return *sha;
}

// Runs cutoff_create.lua: by SHA, then by text where Redis has not cached it (a new, restarted
// or SCRIPT FLUSHed node; EVAL caches it). A script rather than a function library, so that it
// works whatever libraries the caller's client loads. Returns the index entry that stands.
absl::StatusOr<std::string> RecordCutoff(RedisClient& redis, const std::string& id,
                                         const std::string& record, const std::string& data,
                                         const std::string& checked_entry) {
  const std::string index_key = CutoffIndexKey();
  const std::string data_key = CutoffDataKey(id);
  for (const bool by_text : {false, true}) {
    absl::StatusOr<std::vector<ReplyPtr>> r = redis.Pipeline(
        {{by_text ? "EVAL" : "EVALSHA",
          by_text ? absl::string_view(kCutoffCreateLua) : absl::string_view(CutoffScriptSha()), "2",
          index_key, data_key, id, record, data, checked_entry}});
    if (!r.ok()) return r.status();
    const redisReply* reply = r->front().get();
    if (!by_text && reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
        absl::StartsWith(Text(reply), "NOSCRIPT")) {
      continue;
    }
    if (absl::Status s = ReplyStatus(reply); !s.ok()) return s;
    if (reply->type != REDIS_REPLY_STRING) break;
    return std::string(Text(reply));
  }
  return absl::InternalError("cut-off not recorded");
}

}  // namespace

absl::StatusOr<v1::Cutoff> FreezeCutoff(RedisClient& redis, const v1::Cutoff& meta,
                                        const std::vector<std::string>& codes) {
  const std::string& id = meta.cutoff_id();
  const std::optional<absl::CivilDay> on = ParseDate(meta.as_of_date());
  if (!on) return absl::InvalidArgumentError("as_of_date: must be a date YYYY-MM-DD");
  absl::StatusOr<std::vector<ReplyPtr>> r =
      redis.Pipeline({{"HGET", CutoffIndexKey(), id}, {"EXISTS", CutoffDataKey(id)}});
  if (!r.ok()) return r.status();
  for (const ReplyPtr& reply : *r) {
    if (absl::Status s = ReplyStatus(reply.get()); !s.ok()) return s;
  }
  const redisReply* index_entry = (*r)[0].get();
  std::string checked_entry;  // the entry seen, which has this cut-off's date ("" for none)
  if (index_entry->type == REDIS_REPLY_STRING) {
    checked_entry = std::string(Text(index_entry));
    absl::StatusOr<v1::Cutoff> existing = SameCutoff(Text(index_entry), meta);
    // A whole cut-off answers as it is, without reading anything more.
    if (!existing.ok() || (*r)[1]->integer == 1) return existing;
  }
  absl::StatusOr<std::map<std::string, RegionHistory, std::less<>>> histories =
      ReadHistories(redis, codes);
  if (!histories.ok()) return histories.status();
  std::map<std::string, RegionAggregate, std::less<>> frozen;
  for (const auto& [code, history] : *histories) {
    if (history.Trimmed(*on)) {
      return WithReason(
          absl::OutOfRangeError(absl::StrCat("history of ", code, " is kept from ",
                                             FormatDate(CivilDayOf(*history.kept_from)), " only")),
          reason::kDateOutOfRange);
    }
    RegionAggregate& a = frozen[code];
    a.counts = history.On(*on);
    a.version = history.live.version;
  }
  absl::StatusOr<std::string> stands =
      RecordCutoff(redis, id, meta.SerializeAsString(), EncodeFrozen(frozen), checked_entry);
  if (!stands.ok()) return stands.status();
  return SameCutoff(*stands, meta);
}

}  // namespace uhc
