#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/redis/client.h"
#include "tests/support/redis_server.h"

namespace uhc::testing {

// A real Redis Cluster for one test: six redis-server processes on free loopback ports made into
// three primaries with one replica each by `redis-cli --cluster create`. The constructor returns
// once the cluster is healthy (see WaitHealthy); the destructor kills every node.
class RedisClusterNodes {
 public:
  RedisClusterNodes();
  RedisClusterNodes(const RedisClusterNodes&) = delete;
  RedisClusterNodes& operator=(const RedisClusterNodes&) = delete;

  // Cluster options with the first node as seed.
  RedisOptions options() const;
  int size() const { return static_cast<int>(nodes_.size()); }
  RedisServer& node(int i) { return *nodes_[i]; }
  // The node on `port` (asserts it exists).
  RedisServer& NodeOnPort(int port);

  // Port of the primary serving `slot` according to a live node, or 0.
  int PrimaryPortOf(uint16_t slot) const;
  // Node id of the node on `port`.
  std::string NodeId(int port) const;
  // True once every live node reports cluster_state:ok, `redis-cli --cluster check` finds every
  // node agreeing and no slot open, and (when `replicas`) every primary has a replica online.
  bool WaitHealthy(int timeout_ms, bool replicas = true) const;
  // Runs a redis-cli command line (arguments after "redis-cli"); returns its exit status and
  // writes its output to `output` when given.
  static int RedisCli(const std::string& arguments, std::string* output = nullptr);

 private:
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

}  // namespace uhc::testing
