#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/observability/metrics.h"
#include "common/redis/background_loop.h"
#include "common/redis/client.h"

namespace uhc {

// Watches whether Redis answers PING, on its own thread and connection, and calls `on_change`
// (from that thread) on every transition, starting with the first result. Healthy means the
// service can do its work: `on_up` passed and at least one primary answers. In a cluster each
// primary is probed on its own: one unreachable shard is logged (node and error) and counted
// (uhc_redis_node_up{node}) but leaves the service healthy, its calls failing retryably while the
// other shards' succeed; only every primary lost makes it unhealthy. `on_up` must pass once (at the
// first contact, and after every primary was lost) before the service is healthy: it checks what
// lives on one shard (the NIK key, the layout), so a service starting while a shard is down waits
// for it. It runs again when a node returns or a new primary appears (a failover). Workers that see
// an I/O error call ReportFailure so the probe runs at once instead of at the next interval.
class RedisHealth {
 public:
  RedisHealth(RedisOptions options, absl::Duration interval, std::function<void(bool)> on_change);
  ~RedisHealth();

  bool healthy() const { return healthy_.load(std::memory_order_acquire); }
  // What a call answers while not healthy: UNAVAILABLE naming the last probe's error, or the
  // status `on_up` refused Redis with (FAILED_PRECONDITION for a Redis this service must not
  // write to: another bucket layout, no module where one is required).
  absl::Status NotServing() const;
  void ReportFailure();
  // Runs `on_up` on the probe thread each time Redis becomes reachable (e.g. reload functions);
  // set before Start. Redis counts as healthy only if it returns OK. In a cluster, probes PING
  // every primary and a failover counts as a return.
  void set_on_up(std::function<absl::Status(RedisClient&)> on_up) { on_up_ = std::move(on_up); }
  // Where the per-node gauges go (may be null); set before Start.
  void set_metrics(MetricsRegistry* metrics) { metrics_ = metrics; }
  void Start();
  void Stop();

 private:
  // One probe of every primary; the delay before the next.
  absl::Duration ProbeOnce();
  void Set(bool healthy, const absl::Status& problem);
  // Logs a node's transitions and sets its gauge; true when it came back.
  bool ReportNode(const std::string& node, const absl::Status& status);

  RedisOptions options_;
  absl::Duration interval_;
  std::function<void(bool)> on_change_;
  std::function<absl::Status(RedisClient&)> on_up_;
  MetricsRegistry* metrics_ = nullptr;
  std::map<std::string, bool> node_up_;  // the probe thread's only
  std::atomic<bool> healthy_{false};
  mutable std::mutex problem_mu_;
  absl::Status problem_ ABSL_GUARDED_BY(problem_mu_) =
      absl::UnavailableError("redis not reached yet; retry with backoff");
  std::atomic<int> reported_{-1};
  // The probe loop's own state.
  std::unique_ptr<RedisClient> client_;
  bool serving_ = false;
  BackgroundLoop loop_;
};

}  // namespace uhc
