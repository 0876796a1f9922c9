// The cluster client against a real Redis Cluster (three primaries, one replica each): routing,
// MOVED after a slot moved, ASK and TRYAGAIN during a migration, a lost primary, WAIT.
#include "tests/support/redis_cluster.h"

#include "absl/strings/str_cat.h"
#include "common/redis/cluster.h"
#include "common/redis/schema.h"
#include "gtest/gtest.h"

namespace uhc::testing {
namespace {

std::string Text(const redisReply* reply) {
  return reply->str != nullptr ? std::string(reply->str, reply->len) : "";
}

std::unique_ptr<RedisConnection> ConnectTo(int port) {
  RedisOptions o;
  o.port = port;
  auto c = RedisConnection::Connect(o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// A key in `slot` (searched, deterministic).
std::string KeyInSlot(uint16_t slot, const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string tag = absl::StrCat("t", i);
    if (KeySlot(tag) == slot) return absl::StrCat(prefix, "{", tag, "}");
  }
}

class RedisClusterTest : public ::testing::Test {
 protected:
  // Starts moving `slot` to the primary on `to_port` (IMPORTING / MIGRATING) and migrates `keys`.
  void BeginMove(uint16_t slot, int to_port, const std::vector<std::string>& keys) {
    from_port_ = cluster_.PrimaryPortOf(slot);
    auto from = ConnectTo(from_port_);
    auto to = ConnectTo(to_port);
    std::string s = std::to_string(slot);
    ASSERT_EQ(Text(to->Command({"CLUSTER", "SETSLOT", s, "IMPORTING", cluster_.NodeId(from_port_)})
                       ->get()),
              "OK");
    ASSERT_EQ(
        Text(
            from->Command({"CLUSTER", "SETSLOT", s, "MIGRATING", cluster_.NodeId(to_port)})->get()),
        "OK");
    for (const std::string& key : keys) {
      auto reply =
          from->Command({"MIGRATE", "127.0.0.1", std::to_string(to_port), key, "0", "5000"});
      ASSERT_TRUE(reply.ok());
      ASSERT_EQ(Text(reply->get()), "OK") << key;
    }
  }
  // Gives `slot` to the primary on `to_port` on every primary.
  void FinishMove(uint16_t slot, int to_port) {
    std::string id = cluster_.NodeId(to_port);
    for (int i = 0; i < cluster_.size(); ++i) {
      auto c = ConnectTo(cluster_.node(i).port());
      auto role = c->Command({"ROLE"});
      if (Text((*role)->element[0]) != "master") continue;
      auto reply = c->Command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id});
      ASSERT_TRUE(reply.ok());
    }
  }
  int OtherPrimary(int port) {
    for (uint16_t slot : {0, 8000, 16383}) {
      int p = cluster_.PrimaryPortOf(slot);
      if (p != port) return p;
    }
    return 0;
  }

  RedisClusterNodes cluster_;
  int from_port_ = 0;
};

TEST_F(RedisClusterTest, RoutesEveryKeyToItsPrimaryInOnePipeline) {
  ClusterClient client(cluster_.options());
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) keys.push_back(AggregateKey(absl::StrCat("r", i)));
  RedisCommands writes;
  for (const std::string& k : keys) writes.push_back({"HSET", k, "part", k});
  auto replies = client.Pipeline(writes);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), keys.size());
  for (const ReplyPtr& r : *replies) ASSERT_EQ(r->type, REDIS_REPLY_INTEGER) << Text(r.get());
  EXPECT_EQ(client.stats().moved, 0);
  EXPECT_EQ(client.stats().refreshes, 1);

  // Every key is on the primary the cluster says owns its slot, and nowhere else.
  std::map<int, std::unique_ptr<RedisConnection>> direct;
  int per_node[3] = {0, 0, 0};
  std::map<int, int> index_of_port;
  for (const std::string& k : keys) {
    int port = cluster_.PrimaryPortOf(KeySlot(k));
    ASSERT_NE(port, 0);
    if (!direct.count(port)) direct[port] = ConnectTo(port);
    index_of_port.emplace(port, static_cast<int>(index_of_port.size()));
    auto value = direct[port]->Command({"HGET", k, "part"});
    ASSERT_TRUE(value.ok());
    EXPECT_EQ(Text(value->get()), k);
    ++per_node[index_of_port[port]];
  }
  EXPECT_EQ(index_of_port.size(), 3u);
  for (int n : per_node) EXPECT_GT(n, 500);  // spread over the three primaries

  // Replies come back in command order whatever node served them.
  RedisCommands reads;
  for (const std::string& k : keys) reads.push_back({"HGET", k, "part"});
  auto back = client.Pipeline(reads);
  ASSERT_TRUE(back.ok());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(Text((*back)[i].get()), keys[i]);
}

// A connection a node closed while it sat idle (a restart, the node's `timeout`, CLIENT KILL) is
// replaced before it fails a call.
TEST_F(RedisClusterTest, AConnectionANodeClosedWhileIdleIsReplacedBeforeItFailsACall) {
  ClusterClient client(cluster_.options());
  const std::string key = AggregateKey("idle");
  ASSERT_TRUE(client.Pipeline({{"SET", key, "1"}}).ok());  // opens the connection to its primary
  auto admin = ConnectTo(cluster_.PrimaryPortOf(KeySlot(key)));
  auto killed = admin->Command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  ASSERT_TRUE(killed.ok());
  ASSERT_GE((*killed)->integer, 1);
  auto again = client.Pipeline({{"GET", key}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Text((*again)[0].get()), "1");
}

TEST_F(RedisClusterTest, FollowsMovedAndRefreshesTheMap) {
  ClusterClient client(cluster_.options());
  const std::string key = KeyInSlot(100, "moved");
  ASSERT_TRUE(client.Command({"SET", key, "v1"}).ok());
  const int from = cluster_.PrimaryPortOf(100);
  const int to = OtherPrimary(from);
  ASSERT_EQ(client.PrimaryOf(100), absl::StrCat("127.0.0.1:", from));

  BeginMove(100, to, {key});
  FinishMove(100, to);

  auto reply = client.Command({"GET", key});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(Text(reply->get()), "v1");
  EXPECT_EQ(client.stats().moved, 1);
  EXPECT_EQ(client.PrimaryOf(100), absl::StrCat("127.0.0.1:", to));
  // The map is fixed: no further redirect.
  ASSERT_TRUE(client.Command({"GET", key}).ok());
  EXPECT_EQ(client.stats().moved, 1);
}

TEST_F(RedisClusterTest, FollowsAskDuringAMigrationAndRetriesTryAgain) {
  RedisOptions options = cluster_.options();
  options.command_timeout = absl::Milliseconds(300);
  ClusterClient client(options);
  const std::string moved = KeyInSlot(200, "a");
  const std::string stays = KeyInSlot(200, "b");
  ASSERT_TRUE(client.Pipeline({{"SET", moved, "m"}, {"SET", stays, "s"}}).ok());
  const int from = cluster_.PrimaryPortOf(200);
  const int to = OtherPrimary(from);

  BeginMove(200, to, {moved});
  // A key already moved: ASK to the importing node; the map keeps the slot where it was.
  auto a = client.Pipeline({{"GET", moved}, {"GET", stays}});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(Text((*a)[0].get()), "m");
  EXPECT_EQ(Text((*a)[1].get()), "s");
  EXPECT_GE(client.stats().ask, 1);
  EXPECT_EQ(client.stats().moved, 0);
  EXPECT_EQ(client.PrimaryOf(200), absl::StrCat("127.0.0.1:", from));

  // A script over keys split between the two nodes gets TRYAGAIN until the slot is whole again:
  // here it never is, so the client gives up at the command timeout with Unavailable.
  const char* script = "return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])";
  auto split = client.Command({"EVAL", script, "2", moved, stays});
  EXPECT_TRUE(absl::IsUnavailable(split.status())) << split.status();
  EXPECT_GT(client.stats().retried, 0);

  // Once the remaining key moved and the slot is given to the new owner, the same call works.
  auto from_connection = ConnectTo(from);
  ASSERT_EQ(Text((*from_connection->Command(
                      {"MIGRATE", "127.0.0.1", std::to_string(to), stays, "0", "5000"}))
                     .get()),
            "OK");
  FinishMove(200, to);
  auto whole = client.Command({"EVAL", script, "2", moved, stays});
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(Text(whole->get()), "ms");
}

TEST_F(RedisClusterTest, ALostPrimaryIsReplacedByItsPromotedReplica) {
  ClusterClient client(cluster_.options());
  const std::string key = KeyInSlot(300, "failover");
  // WAIT confirms the write reached the replica before the primary dies.
  auto written = client.Pipeline({{"SET", key, "kept"}}, /*wait_replicas=*/1);
  ASSERT_TRUE(written.ok()) << written.status();
  const int old_primary = cluster_.PrimaryPortOf(300);
  cluster_.NodeOnPort(old_primary).Stop(/*kill=*/true);
  ASSERT_TRUE(WaitFor(
      [&] {
        int p = cluster_.PrimaryPortOf(300);
        return p != 0 && p != old_primary;
      },
      20000))
      << "no failover";
  ASSERT_TRUE(cluster_.WaitHealthy(20000, /*replicas=*/false));

  // The first call may still hit the dead node (Unavailable); the map is then refreshed.
  absl::StatusOr<ReplyPtr> value = client.Command({"GET", key});
  if (!value.ok()) {
    EXPECT_TRUE(absl::IsUnavailable(value.status())) << value.status();
    value = client.Command({"GET", key});
  }
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(Text(value->get()), "kept");
  EXPECT_EQ(client.PrimaryOf(300), absl::StrCat("127.0.0.1:", cluster_.PrimaryPortOf(300)));

  // The promoted primary has no replica: a write that must reach one is not confirmed.
  auto unconfirmed = client.Pipeline({{"SET", key, "again"}}, /*wait_replicas=*/1);
  EXPECT_TRUE(absl::IsUnavailable(unconfirmed.status())) << unconfirmed.status();
  EXPECT_TRUE(client.Pipeline({{"SET", key, "again"}}).ok());
}

TEST_F(RedisClusterTest, ASuccessorClientFindsTheClusterWithTheSeedGone) {
  ClusterClient first(cluster_.options());
  ASSERT_TRUE(first.Command({"SET", "k", "v"}).ok());
  RedisServer& seed = cluster_.node(0);
  seed.Stop(/*kill=*/true);
  ASSERT_TRUE(cluster_.WaitHealthy(30000, /*replicas=*/false));

  // Only the seed: nothing to ask.
  ClusterClient lost(cluster_.options());
  EXPECT_TRUE(absl::IsUnavailable(lost.Command({"GET", "k"}).status()));
  // Seeded with what its predecessor knew (as the health probe and the refresher do).
  RedisOptions options = cluster_.options();
  options.cluster_seeds = first.KnownNodes();
  ClusterClient successor(options);
  auto value = successor.Command({"GET", "k"});
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(Text(value->get()), "v");
}

TEST(RedisClusterEmptyTest, ANodeServingNoSlotsIsNotAMap) {
  RedisServer lone({"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"},
                   FreeClusterPort());
  RedisOptions options = lone.options();
  options.cluster = true;
  ClusterClient client(options);
  absl::Status pinged = client.ForEachPrimary([](RedisConnection&) { return absl::OkStatus(); });
  EXPECT_TRUE(absl::IsUnavailable(pinged)) << pinged;
  EXPECT_TRUE(absl::IsUnavailable(client.Command({"GET", "k"}).status()));
}

TEST_F(RedisClusterTest, ForEachPrimaryVisitsTheThreePrimaries) {
  ClusterClient client(cluster_.options());
  std::set<std::string> ids;
  ASSERT_TRUE(client
                  .ForEachPrimary([&](RedisConnection& c) {
                    auto id = c.Command({"CLUSTER", "MYID"});
                    if (!id.ok()) return id.status();
                    ids.insert(Text(id->get()));
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(ids.size(), 3u);
}

}  // namespace
}  // namespace uhc::testing
