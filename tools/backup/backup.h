#pragma once

// The logical export and import of what replaying events cannot rebuild (proto/uhc/backup/v1):
// admin inputs with their dates, cut-offs, and the recorded tier changes. docs/RUNBOOK.md
// "Restore" says when to use it and in which order.

#include <iosfwd>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/domain/regions.h"
#include "common/redis/client.h"

namespace uhc::backup {

inline constexpr char kFormat[] = "uhc-export";
// 2: uhc.v1 renamed Cutoff.created_at to create_time and TierChange.changed_at to change_time
// (docs/API.md "Changes"); version 1 files are read with the old names mapped to the new.
inline constexpr int kFormatVersion = 2;

// What an export or import moved, for the operator's summary line.
struct Counts {
  int regions = 0;
  int cutoffs = 0;
  int recorded_tiers = 0;
  int tier_histories = 0;
  int log_entries = 0;
  std::string Summary() const;
};

// Writes the export of `redis` (standalone or cluster) to `out`. Regions are those of `regions`.
absl::StatusOr<Counts> Export(RedisClient& redis, const RegionRegistry& regions, absl::Time now,
                              std::ostream& out);

// Imports `text` (a whole export) into `redis`. Checked before anything is written: the trailer
// (records and SHA-256), the header (format, a version this release reads), every region code,
// and the target: INVALID_ARGUMENT for a damaged or foreign file, FAILED_PRECONDITION when the
// target holds another NIK key or bucket layout, or already holds inputs, cut-offs or tier
// changes (an import goes into an empty Redis; after a failed one, flush it and import again).
// `rekey`: the target is a new keyspace under another NIK key (DEPLOY.md "The NIK key"): the
// export's key fingerprint is neither checked nor recorded.
absl::StatusOr<Counts> Import(RedisClient& redis, const RegionRegistry& regions,
                              const std::string& text, bool rekey = false);

}  // namespace uhc::backup
