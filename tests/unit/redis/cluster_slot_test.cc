#include "common/redis/cluster.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

TEST(KeySlotTest, MatchesRedisClusterSpec) {
  // The CRC16 check value of "123456789" is 0x31C3 (Redis Cluster specification).
  EXPECT_EQ(KeySlot("123456789"), 0x31C3);
  // Values from CLUSTER KEYSLOT on a real server.
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot(""), 0);
}

TEST(KeySlotTest, HashTagsPutARegionInOneSlot) {
  EXPECT_EQ(KeySlot("{12.19}"), KeySlot("12.19"));
  EXPECT_EQ(KeySlot("uhc:{12.19}:agg"), KeySlot("12.19"));
  EXPECT_EQ(KeySlot("uhc:{12.19}:p:0a"), KeySlot("uhc:{12.19}:history"));
  EXPECT_NE(KeySlot("uhc:{12.19}:agg"), KeySlot("uhc:{12.18}:agg"));
  // Only the first tag counts; an empty tag means the whole key is hashed.
  EXPECT_EQ(KeySlot("a{x}b{y}"), KeySlot("x"));
  EXPECT_EQ(KeySlot("foo{}{bar}"), 8363);
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
}

TEST(RoutingKeyTest, FirstKeyOfEachCommand) {
  EXPECT_EQ(RoutingKey({"HGETALL", "uhc:{12.19}:agg"}), "uhc:{12.19}:agg");
  EXPECT_EQ(RoutingKey({"fcall", "uhc_apply_v1", "2", "k1", "k2", "arg"}), "k1");
  EXPECT_EQ(RoutingKey({"FCALL", "f", "0", "arg"}), std::nullopt);
  // uhc_module.so's command: numkeys, keys, events.
  EXPECT_EQ(RoutingKey({"uhc.apply_v3", "2", "k1", "k2", "events"}), "k1");
  EXPECT_EQ(RoutingKey({"UHC.APPLY_V3", "0", "events"}), std::nullopt);
  EXPECT_EQ(RoutingKey({"FUNCTION", "LOAD", "REPLACE", "code"}), std::nullopt);
  EXPECT_EQ(RoutingKey({"PING"}), std::nullopt);
  EXPECT_EQ(RoutingKey({"WAIT", "1", "100"}), std::nullopt);
  EXPECT_EQ(RoutingKey({}), std::nullopt);
}

}  // namespace
}  // namespace uhc
