#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "classifier-svc/refresher.h"
#include "classifier-svc/snapshot.h"
#include "common/redis/client.h"
#include "common/redis/history.h"
#include "uhc/v1/classifier.pb.h"
#include "uhc/v1/enrollment.pb.h"

namespace uhc {

using Histories = std::map<std::string, RegionHistory, std::less<>>;

// Answers about the past (common/redis/history.h): snapshots of every region as of a day, from
// frozen cut-offs, and trends. Each read goes to Redis (on an executor thread); a snapshot as of
// a day is kept while the live snapshot, read after it, shows the same data (the nation's data
// version), so it is as fresh as the live answers; a cut-off's is kept for good (it never
// changes). Thread-safe.
class PastAnswers {
 public:
  // Pointers are not owned and must outlive this.
  PastAnswers(const RegionRegistry* regions, const PolicySet* policies, const Refresher* refresher)
      : regions_(regions), policies_(policies), refresher_(refresher) {}

  // "YYYY-MM-DD" -> a day not after today (WIB), or INVALID_ARGUMENT naming `field`.
  static absl::StatusOr<absl::CivilDay> CheckDate(const std::string& field,
                                                  const std::string& text);

  // Every region's figures and tiers at the end of `day`. OUT_OF_RANGE for a day older than the
  // history kept.
  absl::StatusOr<std::shared_ptr<const Snapshot>> At(RedisClient& redis, absl::CivilDay day);

  // A frozen cut-off: its record and the snapshot of its figures.
  struct Frozen {
    v1::Cutoff cutoff;
    std::shared_ptr<const Snapshot> snapshot;
  };
  absl::StatusOr<Frozen> Cutoff(RedisClient& redis, const std::string& id);

  // GetRegionTrend, validated except for the region and policy (known).
  absl::StatusOr<v1::RegionTrend> Trend(RedisClient& redis, const Region& region,
                                        const v1::PolicyConfig& policy,
                                        const std::vector<absl::CivilDay>& days);

 private:
  const RegionRegistry* regions_;
  const PolicySet* policies_;
  const Refresher* refresher_;

  std::mutex mu_;
  struct Cached {
    int64_t nation_version;
    std::shared_ptr<const Snapshot> snapshot;
  };
  std::map<absl::CivilDay, Cached> at_;  // a few days, the most recently built
  std::map<std::string, Frozen> cutoffs_;
};

// The figures of `region` at the end of each of `days` (ascending), rolled up from the histories
// of the kab/kota and provinces it is made of as Snapshot::Build rolls up live figures.
std::vector<RegionCounts> FiguresOnEach(const RegionRegistry& regions, const Histories& histories,
                                        const Region& region,
                                        const std::vector<absl::CivilDay>& days);

// The histories of the kab/kota and provinces the regions `of` are made of.
absl::StatusOr<Histories> ReadSourceHistories(RedisClient& redis, const RegionRegistry& regions,
                                              const std::vector<const Region*>& of);

// The first WIB day of the run of days ending on `today` in which `region` held `tier` under
// `policy`, by the events' time: the tier at the end of each day, from the day histories (it can
// change only on a day a count, a population or a status changed). `today` when it no longer
// holds it at the end of today (events arrived since it was seen); nullopt when it held it on
// every day kept.
std::optional<absl::CivilDay> HeldSince(const RegionRegistry& regions, const Histories& histories,
                                        const Region& region, const v1::PolicyConfig& policy,
                                        const std::string& tier, absl::CivilDay today);

// The days of a trend from `from` to `to`: every day, or the last day of every month (`to` for
// the last, partial one). INVALID_ARGUMENT when from > to or there would be more than `max`.
absl::StatusOr<std::vector<absl::CivilDay>> TrendDays(absl::CivilDay from, absl::CivilDay to,
                                                      v1::TrendInterval interval, size_t max);

}  // namespace uhc
