#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "classifier-svc/tier_wire.h"
#include "common/domain/policy_set.h"
#include "common/domain/region_counts.h"
#include "common/domain/regions.h"
#include "common/redis/schema.h"
#include "uhc/v1/classifier.pb.h"

namespace uhc {

// What Redis holds for one region (its aggregate hash), parsed.

// One region in a snapshot: its figures (kab/kota as read; provinces and the nation rolled up)
// and its evaluation under every policy, prebuilt so that queries only copy.
struct SnapshotEntry {
  const Region* region = nullptr;
  RegionCounts counts;
  int64_t data_version = 0;
  std::map<std::string, v1::RegionTier, std::less<>> tiers;  // by policy id
  // The same in both views, serialized without as_of and stale (appended per answer):
  // GetRegionTier and ListRegionTiers send these bytes (classifier-svc/tier_wire.h).
  std::map<std::string, SerializedTier, std::less<>> serialized;
};

// A province's figures from the sum of its kab/kota and its own aggregate: its own status (UHC
// Prioritas, dues) and, if set, its own population figure (else the sum).
RegionCounts ProvinceFigures(RegionCounts kab_kota_sum, const RegionCounts& own);

// An immutable picture of every region. Shared by readers through shared_ptr<const Snapshot>;
// never modified after Build.
class Snapshot {
 public:
  // Builds from the aggregates of kab/kota and provinces (keyed by code; missing = empty).
  // Province: the sum of its kab/kota, its own status (UHC Prioritas, dues) and, if set, its own
  // population figure (else the sum). Nation: the sum of provinces; it holds no status.
  // Entries whose inputs did not change since `previous` are shared with it, not re-evaluated.
  static std::shared_ptr<const Snapshot> Build(
      const RegionRegistry& regions, const PolicySet& policies,
      const std::map<std::string, RegionAggregate, std::less<>>& aggregates, absl::Time read_at,
      const Snapshot* previous);

  // nullptr if unknown.
  const SnapshotEntry* Find(absl::string_view code) const;
  std::shared_ptr<const SnapshotEntry> FindShared(absl::string_view code) const;
  // Every region in code order ("ID" first).
  const std::vector<std::shared_ptr<const SnapshotEntry>>& entries() const { return entries_; }
  absl::Time read_at() const { return read_at_; }
  // RegionTier.as_of (field 11) encoded: appended to a serialized entry, protobuf merges it in.
  const std::string& as_of_field() const { return as_of_field_; }

 private:
  std::vector<std::shared_ptr<const SnapshotEntry>> entries_;
  std::map<std::string, size_t, std::less<>> index_;
  absl::Time read_at_;
  std::string as_of_field_;
};

}  // namespace uhc
