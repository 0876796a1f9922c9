#include "classifier-svc/past.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/domain/errors.h"
#include "common/domain/policy.h"
#include "common/redis/history.h"

namespace uhc {
namespace {

constexpr size_t kCachedDays = 8;

// The kab/kota and provinces whose histories answer for `region`.
std::vector<std::string> Sources(const RegionRegistry& regions, const Region& region) {
  std::vector<std::string> codes;
  auto add_province = [&](const Region& p) {
    codes.push_back(p.code);
    for (const Region* kab : regions.Children(p.code)) codes.push_back(kab->code);
  };
  switch (region.level) {
    case RegionLevel::kRegency:
      codes.push_back(region.code);
      break;
    case RegionLevel::kProvince:
      add_province(region);
      break;
    case RegionLevel::kNation:
      for (const Region* p : regions.provinces()) add_province(*p);
      break;
  }
  return codes;
}

absl::Status CheckKept(const std::map<std::string, RegionHistory, std::less<>>& histories,
                       absl::CivilDay day) {
  for (const auto& [code, h] : histories) {
    if (h.Trimmed(day)) {
      return WithReason(absl::OutOfRangeError(absl::StrCat(
                            "history is kept from ", FormatDate(CivilDayOf(*h.kept_from)),
                            " (region ", code, "); ask for a later date")),
                        reason::kDateOutOfRange);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<absl::CivilDay> PastAnswers::CheckDate(const std::string& field,
                                                      const std::string& text) {
  std::optional<absl::CivilDay> day = ParseDate(text);
  if (!day) return InvalidField(field, "must be a date YYYY-MM-DD");
  const absl::CivilDay today = WibToday(absl::Now());
  if (*day > today) {
    return InvalidField(field, absl::StrCat("is after today (", FormatDate(today), " WIB)"));
  }
  return *day;
}

absl::StatusOr<std::shared_ptr<const Snapshot>> PastAnswers::At(RedisClient& redis,
                                                                absl::CivilDay day) {
  // A kept snapshot answers while the live snapshot, read after it, shows no change: as fresh
  // as the live answers.
  std::shared_ptr<const Snapshot> live = refresher_->snapshot();
  const SnapshotEntry* nation = live->Find(regions_->nation().code);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = at_.find(day);
    if (it != at_.end() && nation != nullptr && it->second.nation_version == nation->data_version &&
        live->read_at() >= it->second.snapshot->read_at()) {
      return it->second.snapshot;
    }
  }
  const absl::Time read_at = absl::Now();
  absl::StatusOr<std::map<std::string, RegionHistory, std::less<>>> histories =
      ReadHistories(redis, Sources(*regions_, regions_->nation()));
  if (!histories.ok()) return histories.status();
  if (absl::Status s = CheckKept(*histories, day); !s.ok()) return s;
  std::map<std::string, RegionAggregate, std::less<>> figures;
  for (const auto& [code, h] : *histories) {
    RegionAggregate& a = figures[code];
    a.counts = h.On(day);
    a.version = h.live.version;
  }
  std::shared_ptr<const Snapshot> snapshot =
      Snapshot::Build(*regions_, *policies_, figures, read_at, nullptr);
  const int64_t version = snapshot->Find(regions_->nation().code)->data_version;
  std::lock_guard<std::mutex> lock(mu_);
  if (at_.size() >= kCachedDays && at_.count(day) == 0) at_.erase(at_.begin());
  at_[day] = Cached{version, snapshot};
  return snapshot;
}

absl::StatusOr<PastAnswers::Frozen> PastAnswers::Cutoff(RedisClient& redis, const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cutoffs_.find(id);
    if (it != cutoffs_.end()) return it->second;
  }
  absl::StatusOr<FrozenCutoff> read = ReadCutoff(redis, id);
  if (!read.ok()) return read.status();
  Frozen frozen;
  frozen.cutoff = read->meta;
  frozen.snapshot =
      Snapshot::Build(*regions_, *policies_, read->figures,
                      absl::FromUnixSeconds(read->meta.create_time().seconds()), nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  cutoffs_[id] = frozen;
  return frozen;
}

absl::StatusOr<v1::RegionTrend> PastAnswers::Trend(RedisClient& redis, const Region& region,
                                                   const v1::PolicyConfig& policy,
                                                   const std::vector<absl::CivilDay>& days) {
  absl::StatusOr<Histories> histories = ReadHistories(redis, Sources(*regions_, region));
  if (!histories.ok()) return histories.status();
  if (absl::Status s = CheckKept(*histories, days.front()); !s.ok()) return s;
  const std::vector<RegionCounts> figures = FiguresOnEach(*regions_, *histories, region, days);

  v1::RegionTrend trend;
  trend.set_region_code(region.code);
  trend.set_region_name(region.name);
  trend.set_policy_id(policy.id());
  for (size_t i = 0; i < days.size(); ++i) {
    v1::RegionTier tier;
    EvaluatePolicy(policy, figures[i], &tier);
    v1::TrendPoint* point = trend.add_points();
    point->set_date(FormatDate(days[i]));
    *point->mutable_metrics() = std::move(*tier.mutable_metrics());
    point->set_tier(tier.tier());
  }
  // The last run of points holding the last point's tier.
  const int n = trend.points_size();
  int first = n - 1;
  while (first > 0 && trend.points(first - 1).tier() == trend.points(n - 1).tier()) --first;
  if (first > 0) trend.set_held_since(trend.points(first).date());
  return trend;
}

absl::StatusOr<std::vector<absl::CivilDay>> TrendDays(absl::CivilDay from, absl::CivilDay to,
                                                      v1::TrendInterval interval, size_t max) {
  if (from > to) return InvalidField("from_date", "is after to_date");
  std::vector<absl::CivilDay> days;
  if (interval == v1::TREND_INTERVAL_DAY) {
    if (static_cast<size_t>(to - from) + 1 > max) {
      return InvalidField("from_date", absl::StrCat("more than ", max,
                                                    " days: shorten the range or ask for months"));
    }
    for (absl::CivilDay d = from; d <= to; ++d) days.push_back(d);
    return days;
  }
  for (absl::CivilMonth m(from); absl::CivilDay(m) <= to; ++m) {
    absl::CivilDay last = absl::CivilDay(m + 1) - 1;
    days.push_back(last < to ? last : to);
    if (days.size() > max) {
      return InvalidField("from_date", absl::StrCat("more than ", max, " months"));
    }
  }
  return days;
}

std::vector<RegionCounts> FiguresOnEach(const RegionRegistry& regions, const Histories& histories,
                                        const Region& region,
                                        const std::vector<absl::CivilDay>& days) {
  std::map<std::string, std::vector<RegionCounts>> on;
  for (const std::string& code : Sources(regions, region))
    on[code] = histories.at(code).OnEach(days);
  // The figures of province `p` at point i, rolled up as Snapshot::Build does.
  auto province = [&](const Region& p, size_t i) {
    RegionCounts sum;
    for (const Region* kab : regions.Children(p.code)) sum.AddCounts(on.at(kab->code)[i]);
    return ProvinceFigures(sum, on.at(p.code)[i]);
  };
  std::vector<RegionCounts> out;
  out.reserve(days.size());
  for (size_t i = 0; i < days.size(); ++i) {
    if (region.level == RegionLevel::kRegency) {
      out.push_back(on.at(region.code)[i]);
    } else if (region.level == RegionLevel::kProvince) {
      out.push_back(province(region, i));
    } else {
      RegionCounts nation;
      for (const Region* p : regions.provinces()) nation.AddCounts(province(*p, i));
      out.push_back(nation);
    }
  }
  return out;
}

absl::StatusOr<Histories> ReadSourceHistories(RedisClient& redis, const RegionRegistry& regions,
                                              const std::vector<const Region*>& of) {
  std::set<std::string> codes;
  for (const Region* r : of) {
    for (std::string& code : Sources(regions, *r)) codes.insert(std::move(code));
  }
  return ReadHistories(redis, std::vector<std::string>(codes.begin(), codes.end()));
}

std::optional<absl::CivilDay> HeldSince(const RegionRegistry& regions, const Histories& histories,
                                        const Region& region, const v1::PolicyConfig& policy,
                                        const std::string& tier, absl::CivilDay today) {
  // The tier can change only on a day some figure of a source changed: a day of counts, a
  // population's as_of, a status's effective date.
  const int64_t last = DayNumberOf(today);
  int64_t kept = INT64_MIN;
  std::set<int64_t> changed;
  for (const std::string& code : Sources(regions, region)) {
    const RegionHistory& h = histories.at(code);
    if (h.kept_from) kept = std::max(kept, *h.kept_from);
    for (const auto& [day, delta] : h.days) {
      if (day <= last) changed.insert(day);
    }
    const auto add_date = [&](const std::string& date) {
      if (auto d = ParseDate(date); d && DayNumberOf(*d) <= last) changed.insert(DayNumberOf(*d));
    };
    for (const auto& [date, figure] : h.population) add_date(date);
    for (const auto& [date, status] : h.status) add_date(date);
  }
  // The figures at the end of each day before a change, and of today.
  std::vector<absl::CivilDay> days;
  for (const int64_t day : changed) {
    if (day - 1 >= kept && day - 1 < last) days.push_back(CivilDayOf(day - 1));
  }
  days.push_back(today);
  const std::vector<RegionCounts> figures = FiguresOnEach(regions, histories, region, days);
  const auto tier_on = [&](size_t i) {
    v1::RegionTier evaluated;
    EvaluatePolicy(policy, figures[i], &evaluated);
    return evaluated.tier();
  };
  if (tier_on(days.size() - 1) != tier) return today;  // changed again since it was seen
  for (size_t i = days.size() - 1; i-- > 0;) {
    if (tier_on(i) != tier) return days[i] + 1;
  }
  return std::nullopt;  // held on every day kept
}

}  // namespace uhc
