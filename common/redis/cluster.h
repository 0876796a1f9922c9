#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/observability/metrics.h"
#include "common/redis/client.h"

namespace uhc {

inline constexpr int kClusterSlots = 16384;

// /metrics counters every cluster client of a process adds to (see RedisOptions). Inline, so that
// code linking the client without the metrics registry (reflection_test) still links.
struct RedisClusterCounters {
  explicit RedisClusterCounters(MetricsRegistry* registry)
      : moved(registry->AddCounter("uhc_redis_cluster_redirects_total",
                                   "Redis Cluster redirects followed.", {{"kind", "moved"}})),
        ask(registry->AddCounter("uhc_redis_cluster_redirects_total",
                                 "Redis Cluster redirects followed.", {{"kind", "ask"}})),
        retried(registry->AddCounter("uhc_redis_cluster_retries_total",
                                     "Commands retried after TRYAGAIN or CLUSTERDOWN.")),
        refreshes(registry->AddCounter("uhc_redis_cluster_map_refreshes_total",
                                       "Slot maps read from the cluster.")) {}
  Counter* moved;
  Counter* ask;
  Counter* retried;
  Counter* refreshes;
};

// The hash slot of a key, as Redis Cluster computes it: CRC16 (XMODEM) of the hash tag (the text
// between the first '{' and the next '}', when not empty) or of the whole key, modulo 16384.
uint16_t KeySlot(absl::string_view key);

// The key a command is routed by: the first key of FCALL / FCALL_RO / EVAL / EVALSHA, nothing for
// the keyless commands this project sends (PING, WAIT, FUNCTION, INFO, CLUSTER, SCAN, ...), else
// argv[1]. Commands are the project's own, never arbitrary user input.
std::optional<absl::string_view> RoutingKey(const RedisArgv& argv);

// A Redis Cluster client on hiredis (which has no cluster support). The slot map comes from
// CLUSTER SLOTS of any reachable node (known primaries, then the seed options.host:options.port,
// then options.cluster_seeds) and is
// refreshed after a MOVED (from the node that sent it there) or a lost connection. One
// connection per primary; a pipeline goes out as one pipeline per node, all nodes written before
// any is read. ASK is followed with ASKING (without changing the map); TRYAGAIN and CLUSTERDOWN
// (a slot in migration, a failover under way) are retried with a short backoff until the command
// timeout, then Unavailable. Keyless commands go to any primary.
// Not thread-safe: one owner at a time, like every RedisClient.
class ClusterClient final : public RedisClient {
 public:
  explicit ClusterClient(RedisOptions options);

  absl::Status ForEachPrimary(const std::function<absl::Status(RedisConnection&)>& fn) override;
  std::vector<NodeStatus> ProbeEachPrimary(
      const std::function<absl::Status(RedisConnection&)>& fn) override;
  bool cluster() const override { return true; }
  std::vector<std::string> KnownNodes() const override;

  // What the client has had to do, for tests and metrics.
  struct Stats {
    int64_t moved = 0;
    int64_t ask = 0;
    int64_t retried = 0;  // TRYAGAIN and CLUSTERDOWN
    int64_t refreshes = 0;
  };
  const Stats& stats() const { return stats_; }
  // "host:port" of the primary serving `slot` in the current map, or "" (refreshes if stale).
  std::string PrimaryOf(uint16_t slot);

 protected:
  absl::StatusOr<std::vector<ReplyPtr>> PipelineOnce(const RedisCommands& commands,
                                                     int wait_replicas) override;

 private:
  // Reads the slot map from the first node that answers, trying `preferred` first.
  absl::Status RefreshSlotMap(const std::string& preferred = "");
  absl::StatusOr<RedisConnection*> ConnectionTo(const std::string& address);
  // Forgets a connection that failed and marks the map stale; returns `error`.
  absl::Status Lost(const std::string& address, absl::Status error);
  std::vector<std::string> Primaries() const;
  void Count(int64_t Stats::*field, Counter* RedisClusterCounters::*counter);

  RedisOptions options_;
  std::string seed_;
  std::vector<std::string> nodes_;  // primaries by index
  std::vector<int16_t> slot_node_;  // slot -> index into nodes_, -1 when unserved
  bool map_stale_ = true;
  std::string refresh_from_;  // where the last redirect pointed
  absl::flat_hash_map<std::string, std::unique_ptr<RedisConnection>> connections_;
  Stats stats_;
};

}  // namespace uhc
