#include "classifier-svc/past.h"

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
      return absl::OutOfRangeError(absl::StrCat("history is kept from ",
                                                FormatDate(CivilDayOf(*h.kept_from)), " (region ",
                                                code, "); ask for a later date"));
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
                      absl::FromUnixSeconds(read->meta.created_at().seconds()), nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  cutoffs_[id] = frozen;
  return frozen;
}

absl::StatusOr<v1::RegionTrend> PastAnswers::Trend(RedisClient& redis, const Region& region,
                                                   const v1::PolicyConfig& policy,
                                                   const std::vector<absl::CivilDay>& days) {
  absl::StatusOr<std::map<std::string, RegionHistory, std::less<>>> histories =
      ReadHistories(redis, Sources(*regions_, region));
  if (!histories.ok()) return histories.status();
  if (absl::Status s = CheckKept(*histories, days.front()); !s.ok()) return s;
  std::map<std::string, std::vector<RegionCounts>> on;
  for (const auto& [code, h] : *histories) on[code] = h.OnEach(days);

  // The figures of `r` at point i, rolled up as Snapshot::Build does.
  auto province = [&](const Region& p, size_t i) {
    RegionCounts sum;
    for (const Region* kab : regions_->Children(p.code)) sum.AddCounts(on.at(kab->code)[i]);
    return ProvinceFigures(sum, on.at(p.code)[i]);
  };
  auto figures = [&](size_t i) {
    if (region.level == RegionLevel::kRegency) return on.at(region.code)[i];
    if (region.level == RegionLevel::kProvince) return province(region, i);
    RegionCounts nation;
    for (const Region* p : regions_->provinces()) nation.AddCounts(province(*p, i));
    return nation;
  };

  v1::RegionTrend trend;
  trend.set_region_code(region.code);
  trend.set_region_name(region.name);
  trend.set_policy_id(policy.id());
  for (size_t i = 0; i < days.size(); ++i) {
    v1::RegionTier tier;
    EvaluatePolicy(policy, figures(i), &tier);
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

}  // namespace uhc
