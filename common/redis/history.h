#pragma once

// The time dimension: what each region's figures were at the end of any day, by event time.
//
// uhc_apply_v3 (enrollment-svc/uhc_apply_v3.lua) adds every applied transition's change of the
// ten counts to the day (WIB, UTC+7) of its event_time, in the region's day hash, in the same
// atomic call that changes the live aggregate. So, for any day D, the counts at the end of D are
// the live counts minus every day's change after D: exact, late arrivals included (an event
// applied today that occurred last month changes last month's day). Events answered STALE are not
// applied, now or in the past. The admin functions keep the history of population figures (by
// their as_of) and of the status (by effective date) in the region's settings hash.
//
// Day hash `uhc:{<region>}:days`: field d<day number> (days since 1970-01-01 in WIB) -> the ten
// count changes, packed as the aggregate's field `c`; field `from` -> the first day kept (older
// days were trimmed); field `enc` -> a marker that keeps the hash a hash table (uhc_apply_v3.lua).
// The changes of the region's current day (its newest day with changes) are in its aggregate
// hash instead, inside `c` (layout 3, schema.h); they move to the
// day hash when a later day starts.
// Settings hash `uhc:{<region>}:settings`: p<YYYY-MM-DD> -> population figure as of that date;
// s<YYYY-MM-DD> -> "<prio 0|1>|<dues YYYY-MM or empty>", the status from that day on.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/domain/region_counts.h"
#include "common/redis/client.h"
#include "common/redis/schema.h"
#include "uhc/v1/enrollment.pb.h"

namespace uhc {

// DaysKey, SettingsKey, CutoffIndexKey and CutoffDataKey are spelled in schema.h with every key.

// Day numbers: days since 1970-01-01 in WIB (UTC+7), the calendar of the programme.
int64_t WibDayOfMillis(int64_t unix_ms);
absl::CivilDay CivilDayOf(int64_t day_number);
int64_t DayNumberOf(absl::CivilDay day);
absl::CivilDay WibToday(absl::Time now);
// "YYYY-MM-DD" -> day; nullopt unless exactly that shape and a real date.
std::optional<absl::CivilDay> ParseDate(absl::string_view text);
std::string FormatDate(absl::CivilDay day);

// What Redis holds of one region's past.
struct RegionHistory {
  RegionAggregate live;
  // Day number -> the change of n1..n5, a1..a5 on that day.
  std::map<int64_t, std::array<int64_t, 10>> days;
  std::optional<int64_t> kept_from;           // days before it were trimmed
  std::map<std::string, int64_t> population;  // as_of date -> figure
  struct Status {
    bool uhc_prioritas = false;
    int dues_paid_through = 0;  // YYYYMM; 0 = never set
  };
  std::map<std::string, Status> status;  // effective date -> status

  // The figures at the end of `day`: the live counts minus every later day's change, the
  // population figure of the latest as_of not after `day` (0 if none), and the status in force
  // (the live one for a region whose status was set before history was kept). Counts are
  // never below zero.
  RegionCounts On(absl::CivilDay day) const;
  // On() for each of `days` (ascending), in one pass over the history.
  std::vector<RegionCounts> OnEach(const std::vector<absl::CivilDay>& days) const;
  // Whether `day` is older than the days kept.
  bool Trimmed(absl::CivilDay day) const;

 private:
  // The figures at the end of `day`, given the sum of the changes after it.
  RegionCounts Figures(absl::CivilDay day, const std::array<int64_t, 10>& later) const;
};

// One region's history from the HGETALL replies of its aggregate (its current day included),
// day and settings hashes.
RegionHistory ParseHistory(const redisReply* aggregate, const redisReply* days,
                           const redisReply* settings);

// Reads the histories of `codes` (kab/kota or provinces): three HGETALL per region, one pipeline.
absl::StatusOr<std::map<std::string, RegionHistory, std::less<>>> ReadHistories(
    RedisClient& redis, const std::vector<std::string>& codes);

// ---- Frozen cut-offs (RegionAdminService.CreateCutoff): keys of hash tag {cutoffs}.
// The figures of every region (kab/kota counts and settings; a province's own settings), as
// bytes, and back (nullopt if malformed).
std::string EncodeFrozen(const std::map<std::string, RegionAggregate, std::less<>>& figures);
std::optional<std::map<std::string, RegionAggregate, std::less<>>> DecodeFrozen(
    absl::string_view bytes);
// Every cut-off, oldest first.
absl::StatusOr<std::vector<v1::Cutoff>> ReadCutoffs(RedisClient& redis);
// One cut-off and its figures; NOT_FOUND if there is none of that id.
struct FrozenCutoff {
  v1::Cutoff meta;
  std::map<std::string, RegionAggregate, std::less<>> figures;
};
absl::StatusOr<FrozenCutoff> ReadCutoff(RedisClient& redis, const std::string& id);
// Freezes the figures of `codes` as of meta.as_of_date() under meta.cutoff_id() (the caller
// validated both) and returns the cut-off as recorded. The index entry and the figures are
// written in one atomic step (cutoff_create.lua): a call that fails (OOM, a lost connection)
// lists nothing, and a retry completes an entry an earlier release left without its figures.
// An existing cut-off of the same date is answered as it is; of another date, ALREADY_EXISTS.
// FAILED_PRECONDITION when a region's history no longer reaches back to the date.
absl::StatusOr<v1::Cutoff> FreezeCutoff(RedisClient& redis, const v1::Cutoff& meta,
                                        const std::vector<std::string>& codes);

}  // namespace uhc
