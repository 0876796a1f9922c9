#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/time/time.h"
#include "classifier-svc/change_hub.h"
#include "classifier-svc/snapshot.h"
#include "classifier-svc/tier_log.h"
#include "common/observability/metrics.h"
#include "common/redis/background_loop.h"
#include "common/redis/client.h"

namespace uhc {

// The classifier's only Redis reader and writer. Every `interval` it reads every region's
// aggregate in one pipeline, builds a new Snapshot and swaps it in; readers take the current
// snapshot without waiting (an atomic shared_ptr load). Tier changes between snapshots are
// recorded in Redis with compare-and-set, once across replicas, into the change log
// (tier_log.h); then the log's new entries, whichever replica recorded them, are published to
// the hub. When Redis cannot be read, the last good snapshot stays and stale() turns true.
class Refresher {
 public:
  // Pointers are not owned and must outlive the refresher.
  Refresher(RedisOptions redis, const RegionRegistry* regions, const PolicySet* policies,
            absl::Duration interval, TierChangeHub* hub, MetricsRegistry* metrics);

  // Readiness: called from the refresher thread with true before the first fresh snapshot is
  // published (so a caller that sees an answer sees a ready server), and with false once the
  // snapshot is older than set_max_stale's bound. Set before Start.
  void set_on_ready(std::function<void(bool)> on_ready) { on_ready_ = std::move(on_ready); }
  // How long the change log keeps entries (resume tokens stay valid). Set before Start.
  void set_resume_window(absl::Duration window) { resume_window_ = window; }
  // How old the snapshot may grow while Redis (or one shard) cannot be read before the service
  // stops being ready; until then it serves the last snapshot marked stale, so one shard's
  // failover never makes every replica unready at once. Set before Start.
  void set_max_stale(absl::Duration max_stale) { max_stale_ = max_stale; }
  ~Refresher();

  void Start();
  void Stop();

  // Never null after the first refresh attempt (an empty snapshot until Redis answers).
  std::shared_ptr<const Snapshot> snapshot() const { return std::atomic_load(&snapshot_); }
  // True when the last refresh failed (the snapshot is the last good one).
  bool stale() const { return stale_.load(); }
  // Count of successful refreshes, for tests that wait for the next one.
  int64_t generation() const { return generation_.load(); }

 private:
  // One refresh (a new client first if the last failed), then the staleness check.
  void RefreshStep();
  absl::Status RefreshOnce(RedisClient& redis);
  absl::Status LoadRecordedTiers(RedisClient& redis);
  void RecordChanges(RedisClient& redis, const std::vector<v1::TierChange>& changes);
  // Sets each change's effective date (by the events' time) and whether it is back-dated.
  void SetEffectiveDates(RedisClient& redis, absl::Time seen_at,
                         std::vector<v1::TierChange>* changes);
  // Publishes what the change log holds after log_position_.
  absl::Status PublishLog(RedisClient& redis);

  RedisOptions redis_;
  const RegionRegistry* regions_;
  const PolicySet* policies_;
  absl::Duration interval_;
  TierChangeHub* hub_;
  Counter* refreshes_;
  Counter* refresh_errors_;
  Counter* changes_recorded_;
  Gauge* snapshot_age_;

  std::function<void(bool)> on_ready_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::atomic<bool> stale_{true};
  absl::Duration max_stale_ = absl::Minutes(5);
  bool unready_ = true;  // on_ready(false) said last (the refresher thread's only)
  std::atomic<int64_t> generation_{0};
  // What this replica believes is recorded in Redis: region -> policy -> tier.
  std::map<std::string, std::map<std::string, std::string>> recorded_;
  bool recorded_loaded_ = false;
  // The last change log entry published to the hub; unknown until the log is first read.
  std::optional<LogPosition> log_position_;
  absl::Duration resume_window_ = absl::Hours(24 * 7);

  // The refresh loop's client: a fresh one after every failure.
  std::unique_ptr<RedisClient> client_;
  BackgroundLoop loop_;
};

}  // namespace uhc
