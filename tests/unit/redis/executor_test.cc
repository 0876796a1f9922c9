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

// A gate tasks wait at until it opens.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Blocks until `n` tasks wait at the gate.
  void AwaitWaiting(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

ExecutorLimits Limits(int threads, size_t queue, int running_per_caller, size_t queued_per_caller) {
  ExecutorLimits limits;
  limits.threads = threads;
  limits.max_queue = queue;
  limits.max_running_per_caller = running_per_caller;
  limits.max_queued_per_caller = queued_per_caller;
  return limits;
}

TEST(ExecutorTest, ACallerAtItsRunningLimitLeavesThreadsToOthers) {
  RedisExecutor executor([] { return std::make_unique<FakeRedisClient>(); }, Limits(4, 100, 2, 50));
  Gate heavy;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(executor.SubmitFor("heavy", [&](RedisClient&) { heavy.Wait(); }),
              RedisExecutor::Admission::kQueued);
  }
  heavy.AwaitWaiting(2);
  // Two threads are held by "heavy" (its limit); its 18 other tasks wait. Another caller's task
  // runs now, while heavy's are still blocked.
  Gate light;
  std::atomic<int> light_done{0};
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(executor.SubmitFor("light", [&](RedisClient&) { ++light_done; }),
              RedisExecutor::Admission::kQueued);
  }
  while (light_done.load() < 2) std::this_thread::yield();
  heavy.Open();
  executor.Shutdown();
}

TEST(ExecutorTest, WaitingCallersTakeTurns) {
  RedisExecutor executor([] { return std::make_unique<FakeRedisClient>(); },
                         Limits(1, 100, 1, 100));
  Gate gate;
  ASSERT_EQ(executor.SubmitFor("a", [&](RedisClient&) { gate.Wait(); }),
            RedisExecutor::Admission::kQueued);
  gate.AwaitWaiting(1);
  std::vector<std::string> order;  // only the one worker writes it
  for (int i = 0; i < 3; ++i) {
    executor.SubmitFor("a", [&](RedisClient&) { order.push_back("a"); });
  }
  executor.SubmitFor("b", [&](RedisClient&) { order.push_back("b"); });
  executor.SubmitFor("c", [&](RedisClient&) { order.push_back("c"); });
  executor.SubmitFor("b", [&](RedisClient&) { order.push_back("b"); });
  gate.Open();
  executor.Shutdown();
  // While "a" holds its one thread its tasks wait, so b and c go first; then each caller in turn,
  // one task at a time: b and c never wait for a's whole queue.
  EXPECT_EQ(order, (std::vector<std::string>{"b", "c", "a", "b", "a", "a"}));
}

TEST(ExecutorTest, ACallerOverItsQueueIsRefusedAloneAndGetsRoomBack) {
  RedisExecutor executor([] { return std::make_unique<FakeRedisClient>(); }, Limits(2, 10, 1, 3));
  Gate gate;
  ASSERT_EQ(executor.SubmitFor("a", [&](RedisClient&) { gate.Wait(); }),
            RedisExecutor::Admission::kQueued);
  gate.AwaitWaiting(1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(executor.SubmitFor("a", [](RedisClient&) {}), RedisExecutor::Admission::kQueued);
  }
  EXPECT_EQ(executor.SubmitFor("a", [](RedisClient&) {}),
            RedisExecutor::Admission::kCallerQueueFull);
  std::atomic<bool> b_ran{false};
  EXPECT_EQ(executor.SubmitFor("b", [&](RedisClient&) { b_ran = true; }),
            RedisExecutor::Admission::kQueued);
  while (!b_ran.load()) std::this_thread::yield();
  gate.Open();
  executor.Shutdown();
  EXPECT_EQ(executor.SubmitFor("a", [](RedisClient&) {}), RedisExecutor::Admission::kStopped);
}

TEST(ExecutorTest, TheSharedQueueLimitHoldsAcrossCallers) {
  RedisExecutor executor([] { return std::make_unique<FakeRedisClient>(); }, Limits(1, 4, 1, 2));
  Gate gate;
  ASSERT_EQ(executor.SubmitFor("x", [&](RedisClient&) { gate.Wait(); }),
            RedisExecutor::Admission::kQueued);
  gate.AwaitWaiting(1);
  for (const char* caller : {"a", "a", "b", "b"}) {
    EXPECT_EQ(executor.SubmitFor(caller, [](RedisClient&) {}), RedisExecutor::Admission::kQueued);
  }
  EXPECT_EQ(executor.SubmitFor("c", [](RedisClient&) {}), RedisExecutor::Admission::kQueueFull);
  gate.Open();
  executor.Shutdown();
}

}  // namespace
}  // namespace uhc
