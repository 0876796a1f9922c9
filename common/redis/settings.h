#pragma once

// The Redis settings the services rely on, read back from every primary (CONFIG GET) when they
// start and each time Redis becomes reachable again (DEPLOY.md "The data tier"):
//  - maxmemory-policy noeviction: the data has no TTLs; any eviction drops participants, so
//    enrollment-svc refuses to write under another policy;
//  - appendonly yes: without it a restart loses every write since the last snapshot;
//  - hash-max-listpack-entries at least the participants a bucket is sized for (1,024): above it
//    buckets leave the compact encoding and memory per participant grows several times.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/observability/metrics.h"
#include "common/redis/client.h"

namespace uhc {

// Redis's hash-max-listpack-entries the sizing assumes (redis.conf of the data tier).
inline constexpr int kListpackEntriesAssumed = 1024;

// The data layout uhc:meta records (0: none recorded yet). FAILED_PRECONDITION for one newer than
// this release's kDataLayout: a rollback onto data a later release wrote, which this release must
// neither write nor read (DEPLOY.md "Upgrades": rollback is restore-from-backup).
absl::StatusOr<int> StoredDataLayout(RedisClient& redis);

struct SettingFinding {
  std::string node;     // "host:port"
  std::string setting;  // "maxmemory-policy"
  std::string value;    // what the node has
  std::string wanted;   // what the services rely on
  bool loses_data = false;
};

// Every setting of every primary that differs from what the services rely on (empty: all good).
absl::StatusOr<std::vector<SettingFinding>> CheckRedisSettings(RedisClient& redis);

// Checks and reports, from one thread (a health probe's or a refresher's): a warning per finding
// naming node, setting, value and the one wanted (logged when the findings change, not on every
// retry), and the gauges uhc_redis_setting_ok{setting=...} (1 when every primary has it right).
class RedisSettingsMonitor {
 public:
  explicit RedisSettingsMonitor(MetricsRegistry* metrics);
  // FAILED_PRECONDITION naming the first setting that loses data (a writer refuses with it);
  // UNAVAILABLE if a primary could not be read; OK otherwise, warnings included.
  absl::Status Check(RedisClient& redis);

 private:
  std::vector<std::pair<std::string, Gauge*>> gauges_;
  std::vector<std::string> logged_;
};

}  // namespace uhc
