#include "classifier-svc/snapshot.h"

#include "absl/strings/string_view.h"
#include "common/domain/policy.h"
#include "google/protobuf/util/time_util.h"

namespace uhc {
namespace {

bool SameCounts(const RegionCounts& a, const RegionCounts& b) {
  return a.population == b.population && a.participants == b.participants && a.active == b.active &&
         a.uhc_prioritas == b.uhc_prioritas && a.dues_paid_through == b.dues_paid_through;
}

v1::RegionLevel Level(RegionLevel level) {
  switch (level) {
    case RegionLevel::kNation:
      return v1::REGION_LEVEL_NATION;
    case RegionLevel::kProvince:
      return v1::REGION_LEVEL_PROVINCE;
    case RegionLevel::kRegency:
      return v1::REGION_LEVEL_REGENCY;
  }
  return v1::REGION_LEVEL_UNSPECIFIED;
}

std::shared_ptr<const SnapshotEntry> Evaluate(const Region* region, const RegionCounts& counts,
                                              int64_t version, const PolicySet& policies,
                                              const Snapshot* previous) {
  if (previous != nullptr) {
    std::shared_ptr<const SnapshotEntry> old = previous->FindShared(region->code);
    if (old != nullptr && old->data_version == version && SameCounts(old->counts, counts)) {
      return old;
    }
  }
  auto entry = std::make_shared<SnapshotEntry>();
  entry->region = region;
  entry->counts = counts;
  entry->data_version = version;
  for (const auto& [id, policy] : policies.all()) {
    v1::RegionTier& tier = entry->tiers[id];
    tier.set_region_code(region->code);
    tier.set_region_name(region->name);
    tier.set_level(Level(region->level));
    tier.set_parent_code(region->parent_code);
    tier.set_data_version(version);
    EvaluatePolicy(policy, counts, &tier);
    entry->serialized[id] = SerializeViews(tier);
  }
  return entry;
}

}  // namespace

RegionCounts ProvinceFigures(RegionCounts sum, const RegionCounts& own) {
  if (own.population > 0) sum.population = own.population;
  sum.uhc_prioritas = own.uhc_prioritas;
  sum.dues_paid_through = own.dues_paid_through;
  return sum;
}

std::shared_ptr<const Snapshot> Snapshot::Build(
    const RegionRegistry& regions, const PolicySet& policies,
    const std::map<std::string, RegionAggregate, std::less<>>& aggregates, absl::Time read_at,
    const Snapshot* previous) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->read_at_ = read_at;
  if (read_at != absl::InfinitePast()) {
    v1::RegionTier stamp;
    *stamp.mutable_snapshot_time() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(read_at));
    snapshot->as_of_field_ = stamp.SerializeAsString();
  }
  static const RegionAggregate kEmpty;
  auto aggregate = [&](const std::string& code) -> const RegionAggregate& {
    auto it = aggregates.find(code);
    return it == aggregates.end() ? kEmpty : it->second;
  };

  RegionCounts nation;
  int64_t nation_version = 0;
  std::map<std::string, std::shared_ptr<const SnapshotEntry>> built;
  for (const Region* province : regions.provinces()) {
    RegionCounts sum;
    int64_t version = aggregate(province->code).version;
    for (const Region* kab : regions.Children(province->code)) {
      const RegionAggregate& a = aggregate(kab->code);
      sum.AddCounts(a.counts);
      version += a.version;
      built[kab->code] = Evaluate(kab, a.counts, a.version, policies, previous);
    }
    sum = ProvinceFigures(sum, aggregate(province->code).counts);
    built[province->code] = Evaluate(province, sum, version, policies, previous);
    nation.AddCounts(sum);
    nation_version += version;
  }
  built[regions.nation().code] =
      Evaluate(&regions.nation(), nation, nation_version, policies, previous);

  for (const Region* region : regions.all()) {
    snapshot->index_[region->code] = snapshot->entries_.size();
    snapshot->entries_.push_back(built.at(region->code));
  }
  return snapshot;
}

const SnapshotEntry* Snapshot::Find(absl::string_view code) const {
  auto it = index_.find(code);
  return it == index_.end() ? nullptr : entries_[it->second].get();
}

std::shared_ptr<const SnapshotEntry> Snapshot::FindShared(absl::string_view code) const {
  auto it = index_.find(code);
  return it == index_.end() ? nullptr : entries_[it->second];
}

}  // namespace uhc
