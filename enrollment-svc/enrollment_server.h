#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "common/redis/background_loop.h"
#include "common/redis/client.h"
#include "common/redis/cluster.h"
#include "common/redis/settings.h"
#include "common/server/host.h"
#include "enrollment-svc/enrollment_service.h"

namespace uhc {

struct EnrollmentServerOptions {
  ServerConfig server;
  RedisOptions redis;
  std::string data_dir = "data";
  std::string hmac_secret;  // >= 32 bytes, not a placeholder (CheckNikSecret)
  int bucket_bits = 8;
  // The participants a kab/kota's bucket is sized for (a quarter below Redis's 1,024-entry listpack
  // threshold, for the spread of a hash): SetPopulation refuses a figure above 2^bucket_bits times
  // this, which the layout cannot hold compactly (DEPLOY.md, sizing).
  int max_participants_per_bucket = 768;
  EnrollmentLimits limits;
  int redis_threads = 4;
  size_t queue_limit = 256;
  std::string token_file;  // empty: no per-call tokens (local run)
  // How far ahead of this server's clock an event's event_time may be.
  absl::Duration max_future_skew = EventValidator::kDefaultMaxFutureSkew;
  // Days of per-day history kept (common/redis/history.h): at least kMinHistoryDays, or 0 to
  // keep everything. Older days are trimmed at start and then every `trim_interval`.
  int history_days = 800;
  absl::Duration trim_interval = absl::Hours(1);
  static constexpr int kMinHistoryDays = 731;  // two years, a leap day included
};

// The whole enrollment-svc: regions, pseudonymisation, Redis executor and health, both services
// on one gRPC server. Used by main and by tests (which run it in-process on a free port).
class EnrollmentServer {
 public:
  static absl::StatusOr<std::unique_ptr<EnrollmentServer>> Start(EnrollmentServerOptions options);
  ~EnrollmentServer();

  int port() const { return host_->port(); }
  int health_port() const { return host_->health_port(); }
  const MetricsRegistry& metrics() const { return *metrics_; }
  int metrics_port() const { return host_->metrics_port(); }
  bool redis_healthy() const { return health_->healthy(); }
  // The SIGTERM sequence: not ready, streams finish after their in-flight batch, in-flight calls
  // drain, workers join. Idempotent.
  void Shutdown();

 private:
  EnrollmentServer() = default;
  // One trimming pass over every region's days older than options_.history_days, run by
  // trimmer_ at start and then every trim_interval, until Shutdown; the delay before the next.
  absl::Duration TrimStep();
  // One pass over every region; false if Redis could not be reached (the next pass retries).
  bool TrimOnce();

  EnrollmentServerOptions options_;
  std::mutex mu_;
  bool redis_up_ = false;  // guarded by mu_: Redis answered and the functions were loaded
  BackgroundLoop trimmer_;
  std::unique_ptr<RegionRegistry> regions_;
  std::unique_ptr<NikKeyer> keyer_;
  std::unique_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<RedisClusterCounters> cluster_counters_;
  std::unique_ptr<EnrollmentMetrics> enrollment_metrics_;
  std::unique_ptr<ServerHost> host_;
  // Before health_: its probe thread uses it.
  std::unique_ptr<RedisSettingsMonitor> settings_;
  std::unique_ptr<RedisHealth> health_;
  std::unique_ptr<RedisExecutor> executor_;
  std::unique_ptr<EventValidator> validator_;
  std::unique_ptr<TokenAuthorizer> auth_;
  std::unique_ptr<EnrollmentServiceImpl> enrollment_;
  std::unique_ptr<RegionAdminServiceImpl> admin_;
};

}  // namespace uhc
