#include "common/redis/background_loop.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "gtest/gtest.h"

namespace uhc {
namespace {

// Counts the steps and lets a test await the n-th (no sleeps).
class Steps {
 public:
  // One step: counts, wakes waiters, asks for `next` before the following one.
  absl::Duration Run(absl::Duration next) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++count_;
    }
    cv_.notify_all();
    return next;
  }
  bool AwaitAtLeast(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return count_ >= n; });
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

TEST(BackgroundLoopTest, RunsAtOnceThenAfterEachDelay) {
  Steps steps;
  BackgroundLoop loop;
  loop.Start([&] { return steps.Run(absl::Milliseconds(1)); });
  EXPECT_TRUE(steps.AwaitAtLeast(5));
  loop.Stop();
}

TEST(BackgroundLoopTest, WakeCutsAWaitShortAndIsNotLostDuringAStep) {
  Steps steps;
  BackgroundLoop loop;
  loop.Start([&] { return steps.Run(absl::InfiniteDuration()); });  // waits until woken
  ASSERT_TRUE(steps.AwaitAtLeast(1));
  loop.Wake();
  EXPECT_TRUE(steps.AwaitAtLeast(2));
  // A wake that comes before the next wait starts still runs a step.
  loop.Wake();
  loop.Wake();
  EXPECT_TRUE(steps.AwaitAtLeast(3));
  loop.Stop();
}

TEST(BackgroundLoopTest, StopEndsAnyWaitAndNoStepRunsAfterIt) {
  Steps steps;
  BackgroundLoop loop;
  loop.Start([&] { return steps.Run(absl::Hours(1)); });
  ASSERT_TRUE(steps.AwaitAtLeast(1));
  const auto before = std::chrono::steady_clock::now();
  loop.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  const int after_stop = steps.count();
  loop.Wake();
  loop.Stop();  // idempotent
  EXPECT_EQ(steps.count(), after_stop);
}

TEST(BackgroundLoopTest, AFirstDelayComesBeforeTheFirstStep) {
  Steps steps;
  {
    BackgroundLoop loop;
    loop.Start([&] { return steps.Run(absl::Hours(1)); }, absl::Hours(1));
  }  // destroyed: stopped before the first step was due
  EXPECT_EQ(steps.count(), 0);
  BackgroundLoop never_started;
  never_started.Stop();  // a loop never started stops too
}

}  // namespace
}  // namespace uhc
