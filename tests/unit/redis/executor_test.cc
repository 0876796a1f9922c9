#include "common/redis/executor.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>

#include "gtest/gtest.h"
#include "tests/support/fake_redis_client.h"

namespace uhc {
namespace {

using testing::FakeRedisClient;

TEST(ExecutorTest, RunsTasksInOrderOnItsWorkersClientAndDrainsOnShutdown) {
  int made = 0;
  RedisExecutor executor(
      [&made] {
        ++made;
        return std::make_unique<FakeRedisClient>();
      },
      1, 100);
  std::vector<int> order;
  std::set<const RedisClient*> used;
  size_t sent = 0;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(executor.Submit([&, i](RedisClient& redis) {
      ASSERT_TRUE(redis.Command({"PING"}).ok());
      used.insert(&redis);
      sent = static_cast<FakeRedisClient&>(redis).sent.size();
      order.push_back(i);
    }));
  }
  executor.Shutdown();  // runs what is queued, then joins (the worker's client goes with it)
  ASSERT_EQ(order.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(made, 1);
  EXPECT_EQ(used.size(), 1u) << "every task ran on the worker's own client";
  EXPECT_EQ(sent, 50u);
  EXPECT_FALSE(executor.Submit([](RedisClient&) {})) << "refused after shutdown";
}

TEST(ExecutorTest, AFullQueueRefusesInsteadOfPilingUp) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> started{false};
  RedisExecutor executor([] { return std::make_unique<FakeRedisClient>(); }, 1, 2);
  // The worker is held on the first task; two more fit in the queue; the fourth is refused.
  ASSERT_TRUE(executor.Submit([&](RedisClient&) {
    started = true;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
  }));
  while (!started.load()) std::this_thread::yield();
  EXPECT_TRUE(executor.Submit([](RedisClient&) {}));
  EXPECT_TRUE(executor.Submit([](RedisClient&) {}));
  EXPECT_FALSE(executor.Submit([](RedisClient&) {}));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  executor.Shutdown();
}

}  // namespace
}  // namespace uhc
