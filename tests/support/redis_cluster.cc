#include "tests/support/redis_cluster.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace uhc::testing {
namespace {

std::string Text(const redisReply* reply) {
  return reply != nullptr && reply->str != nullptr ? std::string(reply->str, reply->len) : "";
}

// One command on a fresh connection to the node on `port`; empty when it cannot answer.
std::string Ask(int port, const RedisArgv& argv) {
  RedisOptions o;
  o.port = port;
  absl::StatusOr<std::unique_ptr<RedisConnection>> c = RedisConnection::Connect(o);
  if (!c.ok()) return "";
  absl::StatusOr<ReplyPtr> reply = (*c)->Command(argv);
  return reply.ok() ? Text(reply->get()) : "";
}

}  // namespace

RedisClusterNodes::RedisClusterNodes() {
  std::vector<std::string> addresses;
  for (int i = 0; i < 6; ++i) {
    nodes_.push_back(std::make_unique<RedisServer>(
        WithApplyModule({"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                         "--cluster-node-timeout", "1000", "--cluster-replica-validity-factor",
                         "0"}),
        FreeClusterPort()));
    addresses.push_back(absl::StrCat("127.0.0.1:", nodes_.back()->port()));
  }
  std::string output;
  int status = RedisCli(absl::StrCat("--cluster create ", absl::StrJoin(addresses, " "),
                                     " --cluster-replicas 1 --cluster-yes"),
                        &output);
  EXPECT_EQ(status, 0) << output;
  EXPECT_TRUE(WaitHealthy(30000)) << "the cluster did not become healthy";
}

RedisOptions RedisClusterNodes::options() const {
  RedisOptions o = nodes_.front()->options();
  o.cluster = true;
  return o;
}

RedisServer& RedisClusterNodes::NodeOnPort(int port) {
  for (auto& node : nodes_) {
    if (node->port() == port) return *node;
  }
  ADD_FAILURE() << "no node on port " << port;
  return *nodes_.front();
}

int RedisClusterNodes::RedisCli(const std::string& arguments, std::string* output) {
  std::string command = absl::StrCat("redis-cli ", arguments, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string text;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
  int status = pclose(pipe);
  if (output != nullptr) *output = std::move(text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int RedisClusterNodes::PrimaryPortOf(uint16_t slot) const {
  for (const auto& node : nodes_) {
    if (!node->running()) continue;
    RedisOptions o;
    o.port = node->port();
    absl::StatusOr<std::unique_ptr<RedisConnection>> c = RedisConnection::Connect(o);
    if (!c.ok()) continue;
    absl::StatusOr<ReplyPtr> reply = (*c)->Command({"CLUSTER", "SLOTS"});
    if (!reply.ok() || (*reply)->type != REDIS_REPLY_ARRAY) continue;
    for (size_t i = 0; i < (*reply)->elements; ++i) {
      const redisReply* range = (*reply)->element[i];
      if (range->element[0]->integer <= slot && slot <= range->element[1]->integer) {
        return static_cast<int>(range->element[2]->element[1]->integer);
      }
    }
    return 0;
  }
  return 0;
}

std::string RedisClusterNodes::NodeId(int port) const { return Ask(port, {"CLUSTER", "MYID"}); }

bool RedisClusterNodes::WaitHealthy(int timeout_ms, bool replicas) const {
  return WaitFor(
      [&] {
        int live_port = 0;
        for (const auto& node : nodes_) {
          if (!node->running()) continue;
          live_port = node->port();
          if (!absl::StrContains(Ask(node->port(), {"CLUSTER", "INFO"}), "cluster_state:ok")) {
            return false;
          }
          std::string replication = Ask(node->port(), {"INFO", "replication"});
          if (replicas && absl::StrContains(replication, "role:master") &&
              !absl::StrContains(replication, "connected_slaves:1")) {
            return false;
          }
          if (replicas && absl::StrContains(replication, "role:slave") &&
              !absl::StrContains(replication, "master_link_status:up")) {
            return false;
          }
        }
        std::string check;
        return live_port != 0 &&
               RedisCli(absl::StrCat("--cluster check 127.0.0.1:", live_port), &check) == 0 &&
               !absl::StrContains(check, "[WARNING]") && !absl::StrContains(check, "[ERR]");
      },
      timeout_ms);
}

}  // namespace uhc::testing
