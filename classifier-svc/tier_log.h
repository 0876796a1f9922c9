#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/domain/regions.h"
#include "common/redis/client.h"
#include "common/redis/schema.h"
#include "uhc/v1/classifier.pb.h"

namespace uhc {

// The recorded tier changes in Redis: the compare-and-set state, each region's history and the
// change log that WatchTierChanges resumes from. Layout and functions: tier_functions.lua.

// A change log entry ID ("<ms>-<seq>"). Ordered like Redis orders stream IDs.
struct LogPosition {
  uint64_t ms = 0;
  uint64_t seq = 0;
  bool operator<(const LogPosition& o) const { return ms < o.ms || (ms == o.ms && seq < o.seq); }
  bool operator==(const LogPosition& o) const { return ms == o.ms && seq == o.seq; }
  bool operator<=(const LogPosition& o) const { return !(o < *this); }
  std::string StreamId() const;  // "1733000000000-0"
};

// The opaque resume token of a position ("t1.<ms>-<seq>"), and back (nullopt if malformed).
std::string ResumeToken(LogPosition position);
std::optional<LogPosition> ParseResumeToken(absl::string_view token);

// One change read from the log; change.resume_token() is set.
struct LoggedChange {
  LogPosition position;
  v1::TierChange change;
};

// The arguments of one uhc_record_tier_v2 call (FCALL ... 4 keys, 6 args). `believed` is the tier
// the caller believes is recorded ("" for none); the log keeps entries newer than `keep_since`.
std::vector<std::string> RecordTierCall(const v1::TierChange& change, const std::string& believed,
                                        int history_length, absl::Time keep_since);

// What is recorded: region -> policy -> tier. Moves version-1 data (per-region keys) to the
// version-2 keys first if the latter are empty (once; safe with several replicas).
absl::StatusOr<std::map<std::string, std::map<std::string, std::string>>> ReadRecordedTiers(
    RedisClient& redis, const RegionRegistry& regions);

// The newest log position ({0, 0} for an empty log).
absl::StatusOr<LogPosition> LastLogPosition(RedisClient& redis);

// At most `count` changes logged after `after`, oldest first.
absl::StatusOr<std::vector<LoggedChange>> ReadLogAfter(RedisClient& redis, LogPosition after,
                                                       int count);

// True when changes logged after `after` may have been trimmed: resuming from it could miss
// some (the token is older than the resume window).
absl::StatusOr<bool> LogTrimmedAfter(RedisClient& redis, LogPosition after);

// The recorded tier history of a region, newest first (at most the kept length), the changes of
// `policy` (all policies when empty).
absl::StatusOr<std::vector<v1::TierChange>> ReadTierHistory(RedisClient& redis,
                                                            const std::string& region,
                                                            const std::string& policy);
// What identifies a recorded change, for ListTierChanges' page positions.
std::string TierChangeKey(const v1::TierChange& change);

}  // namespace uhc
