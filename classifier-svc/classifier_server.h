#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "classifier-svc/classifier_service.h"
#include "common/redis/background_loop.h"
#include "common/redis/cluster.h"
#include "common/redis/settings.h"
#include "common/server/host.h"

namespace uhc {

struct ClassifierServerOptions {
  ServerConfig server;
  RedisOptions redis;
  std::string data_dir = "data";
  std::string policy_dir = "config/policies";
  absl::Duration refresh_interval = absl::Milliseconds(200);
  absl::Duration keepalive_interval = absl::Seconds(10);
  // How long the change log keeps changes (WatchTierChanges resume tokens stay valid). At least
  // an hour: the log is shared, and a replica's short window would expire every replica's tokens.
  absl::Duration resume_window = absl::Hours(24 * 7);
  // Refresher::set_max_stale: how long a stale snapshot is served while ready.
  absl::Duration max_stale = absl::Minutes(5);
  // The executor of Redis reads (as-of, cut-off, trend, ListTierChanges, watch replays): a
  // caller (connection, or token when tokens are on) holds at most half the threads and has at
  // most 16 reads waiting, so one caller's burst leaves threads and queue room to the others.
  // {threads, max_queue, max_running_per_caller, max_queued_per_caller}
  ExecutorLimits past_reads = {4, 256, 2, 16};
  WatchLimits watch;
  std::string token_file;  // empty: no per-call tokens (local run)
};

// The whole classifier-svc (used by main and by in-process tests).
class ClassifierServer {
 public:
  static absl::StatusOr<std::unique_ptr<ClassifierServer>> Start(ClassifierServerOptions options);
  ~ClassifierServer();

  int port() const { return host_->port(); }
  int health_port() const { return host_->health_port(); }
  Refresher& refresher() { return *refresher_; }
  // Live WatchTierChanges streams on this replica.
  size_t watch_streams() const { return hub_->subscribers(); }
  // Where tier changes are published (tests publish their own).
  TierChangeHub& hub() { return *hub_; }
  // The SIGTERM sequence. Idempotent.
  void Shutdown();

 private:
  ClassifierServer() = default;
  void KeepAliveOnce();

  ClassifierServerOptions options_;
  std::unique_ptr<RegionRegistry> regions_;
  std::unique_ptr<PolicySet> policies_;
  std::unique_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<RedisClusterCounters> cluster_counters_;
  std::unique_ptr<ServerHost> host_;
  std::unique_ptr<TierChangeHub> hub_;
  // Before refresher_: its thread uses them (on_ready).
  std::unique_ptr<RedisSettingsMonitor> settings_;
  bool ready_seen_ = false;  // the refresher thread's only
  std::unique_ptr<Refresher> refresher_;
  std::unique_ptr<RedisExecutor> executor_;
  std::unique_ptr<WatchStreams> watch_streams_;
  std::unique_ptr<TokenAuthorizer> auth_;
  std::unique_ptr<ClassifierServiceImpl> service_;
  std::mutex mu_;
  bool stop_ = false;         // guarded by mu_: Shutdown began
  BackgroundLoop keepalive_;  // keep-alives to every watcher, every keepalive_interval
};

}  // namespace uhc
