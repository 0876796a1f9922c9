#include "enrollment-svc/batch_group.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "enrollment-svc/event_applier.h"
#include "gtest/gtest.h"
#include "tests/support/fake_redis_client.h"

namespace uhc {
namespace {

// A batch of n events; event i has index i and, as a marker, arg = first + i.
std::vector<PreparedEvent> Batch(int n, int first) {
  std::vector<PreparedEvent> events(n);
  for (int i = 0; i < n; ++i) {
    events[i].index = i;
    events[i].arg = static_cast<uint8_t>(first + i);
  }
  return events;
}

// Stands in for ApplyEvents: records each call's events and holds it until released; answers
// APPLIED for an even marker and DUPLICATE for an odd one (result byte: the marker), or fails with
// `fail`, or with INTERNAL for a call holding the poisoned marker.
class GatedApply {
 public:
  absl::Status Apply(const std::vector<PreparedEvent>& events, v1::IngestEventsResponse* response,
                     std::vector<uint8_t>* bytes) {
    std::unique_lock<std::mutex> lock(mu_);
    const size_t call = calls_.size();
    calls_.push_back({});
    for (const PreparedEvent& e : events) calls_.back().push_back(e.arg);
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_ > call; });
    if (!fail_.ok()) return fail_;
    for (const PreparedEvent& e : events) {
      if (e.arg == poison_) return absl::InternalError("a call at fault");
    }
    if (bytes) bytes->clear();
    for (const PreparedEvent& e : events) {
      v1::EventResult* r = response->add_results();
      r->set_index(e.index);
      r->set_outcome(e.arg % 2 == 0 ? v1::EVENT_OUTCOME_APPLIED : v1::EVENT_OUTCOME_DUPLICATE);
      if (bytes) bytes->push_back(e.arg);
    }
    CountOutcomes(response);
    return absl::OkStatus();
  }
  void Poison(int marker) {
    std::lock_guard<std::mutex> lock(mu_);
    poison_ = marker;
  }
  void ReleaseAll() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = SIZE_MAX / 2;
    cv_.notify_all();
  }

  // Waits until `n` calls have started; false (and every call let go, so nothing hangs) if they
  // have not within 30 s.
  bool AwaitCalls(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(30), [&] { return calls_.size() >= n; })) {
      return true;
    }
    released_ = SIZE_MAX / 2;
    cv_.notify_all();
    return false;
  }
  void ReleaseOne() {
    std::lock_guard<std::mutex> lock(mu_);
    ++released_;
    cv_.notify_all();
  }
  void Fail(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = std::move(s);
  }
  std::vector<std::vector<int>> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<int>> calls_;  // each call's markers, in order
  size_t released_ = 0;
  absl::Status fail_;
  int poison_ = -1;
};

struct Caller {
  explicit Caller(std::vector<PreparedEvent> e) : events(std::move(e)) {}
  std::vector<PreparedEvent> events;
  v1::IngestEventsResponse response;
  std::vector<uint8_t> bytes;
  absl::Status status;
  std::thread thread;
};

class BatchGroupTest : public ::testing::Test {
 protected:
  BatchGroup Group(size_t max_events, int concurrent = 1) {
    return BatchGroup(
        max_events,
        [this](RedisClient&, const std::vector<PreparedEvent>& events,
               v1::IngestEventsResponse* response,
               std::vector<uint8_t>* bytes) { return gate_.Apply(events, response, bytes); },
        nullptr, concurrent);
  }
  // Starts a thread that applies `c`'s events through `group`.
  void Start(BatchGroup& group, Caller& c) {
    c.thread = std::thread([&group, &c] {
      testing::FakeRedisClient redis;  // one per thread, like the executor's
      c.status = group.Apply(redis, c.events, &c.response, &c.bytes);
    });
  }
  // Busy-waits (no sleep) until `n` batches wait in `group`.
  static void AwaitWaiting(const BatchGroup& group, size_t n) {
    while (group.waiting() < n) std::this_thread::yield();
  }
  // Starts callers[0], which leads and is held in Redis, then the others, one at a time, each
  // waiting in `group` before the next starts (so they wait in this order).
  void StartHeldThenWaiting(BatchGroup& group, const std::vector<Caller*>& callers) {
    Start(group, *callers[0]);
    gate_.AwaitCalls(1);
    for (size_t i = 1; i < callers.size(); ++i) {
      Start(group, *callers[i]);
      AwaitWaiting(group, i);
    }
  }

  GatedApply gate_;
};

TEST_F(BatchGroupTest, BatchesWaitingTogetherGoInOneCallAndEachGetsItsOwnResults) {
  BatchGroup group = Group(8000);
  Caller a{Batch(3, 0)}, b{Batch(2, 10)}, c{Batch(4, 21)};
  StartHeldThenWaiting(group, {&a, &b, &c});
  gate_.ReleaseOne();
  EXPECT_TRUE(gate_.AwaitCalls(2));  // b or c leads a group of both
  gate_.ReleaseOne();
  for (Caller* x : {&a, &b, &c}) x->thread.join();

  const std::vector<std::vector<int>> calls = gate_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(calls[1], (std::vector<int>{10, 11, 21, 22, 23, 24}));  // in arrival order
  for (Caller* x : {&a, &b, &c}) {
    ASSERT_TRUE(x->status.ok()) << x->status;
    ASSERT_EQ(x->response.results_size(), static_cast<int>(x->events.size()));
    for (int i = 0; i < x->response.results_size(); ++i) {
      EXPECT_EQ(x->response.results(i).index(), i);
      EXPECT_EQ(x->response.results(i).outcome(), x->events[i].arg % 2 == 0
                                                      ? v1::EVENT_OUTCOME_APPLIED
                                                      : v1::EVENT_OUTCOME_DUPLICATE);
    }
  }
  EXPECT_EQ(b.response.applied(), 1);  // markers 10, 11
  EXPECT_EQ(b.response.duplicate(), 1);
  EXPECT_EQ(c.response.applied(), 2);  // markers 21..24
  EXPECT_EQ(c.response.duplicate(), 2);
}

TEST_F(BatchGroupTest, AGroupStopsBeforeTheEventLimitAndAFullGroupDoesNotWait) {
  BatchGroup group = Group(5);
  Caller a{Batch(3, 0)}, b{Batch(2, 10)}, c{Batch(4, 20)}, d{Batch(9, 40)};
  StartHeldThenWaiting(group, {&a, &b});  // a held in Redis; b (2 events) waits for more
  Start(group, c);  // 6 events wait, a full group: b goes at once, alone (2 + 4 > 5)
  EXPECT_TRUE(gate_.AwaitCalls(2)) << "a full group waited";
  AwaitWaiting(group, 1);  // c (4) waits
  Start(group, d);         // 13 wait: c goes alone, then d (9 > 5) alone, beside the others
  EXPECT_TRUE(gate_.AwaitCalls(4)) << "a full group waited";
  for (int call = 0; call < 4; ++call) gate_.ReleaseOne();
  for (Caller* x : {&a, &b, &c, &d}) x->thread.join();

  std::vector<std::vector<int>> calls = gate_.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[1], (std::vector<int>{10, 11}));
  // c's group and d's start side by side: either may reach Redis first.
  std::sort(calls.begin() + 2, calls.end());
  EXPECT_EQ(calls[2], (std::vector<int>{20, 21, 22, 23}));
  EXPECT_EQ(calls[3].size(), 9u);
  for (Caller* x : {&a, &b, &c, &d}) {
    EXPECT_TRUE(x->status.ok());
    EXPECT_EQ(x->response.results_size(), static_cast<int>(x->events.size()));
  }
}

// Up to `concurrent` groups run at once: with 2, a second batch goes beside one held in Redis
// and a third waits for either; with 1 (the previous behaviour) the second waits.
TEST_F(BatchGroupTest, UpToConcurrentGroupsRunAtOnce) {
  BatchGroup group = Group(8000, /*concurrent=*/2);
  Caller a{Batch(3, 0)}, b{Batch(2, 10)}, c{Batch(4, 20)};
  Start(group, a);
  gate_.AwaitCalls(1);
  Start(group, b);
  EXPECT_TRUE(gate_.AwaitCalls(2)) << "the second group waited for the first";
  Start(group, c);
  AwaitWaiting(group, 1);  // two run: c waits
  EXPECT_EQ(gate_.calls().size(), 2u);
  gate_.ReleaseOne();
  EXPECT_TRUE(gate_.AwaitCalls(3));
  gate_.ReleaseOne();
  gate_.ReleaseOne();
  for (Caller* x : {&a, &b, &c}) {
    x->thread.join();
    EXPECT_TRUE(x->status.ok());
  }

  BatchGroup serial = Group(8000, /*concurrent=*/1);
  Caller d{Batch(3, 30)}, e{Batch(2, 40)};
  Start(serial, d);
  gate_.AwaitCalls(4);
  Start(serial, e);
  AwaitWaiting(serial, 1);  // one runs: e waits
  EXPECT_EQ(gate_.calls().size(), 4u);
  gate_.ReleaseOne();
  EXPECT_TRUE(gate_.AwaitCalls(5));
  gate_.ReleaseOne();
  for (Caller* x : {&d, &e}) x->thread.join();
}

// With batches as large as the limit nothing can be grouped, and nothing waits: the calls go
// side by side as they did before grouping.
TEST_F(BatchGroupTest, BatchesAsLargeAsTheLimitDoNotWaitForEachOther) {
  BatchGroup group = Group(4);
  Caller a{Batch(4, 0)}, b{Batch(4, 10)};
  Start(group, a);
  gate_.AwaitCalls(1);
  Start(group, b);
  EXPECT_TRUE(gate_.AwaitCalls(2)) << "b waited for a";  // while a is still held
  gate_.ReleaseOne();
  gate_.ReleaseOne();
  for (Caller* x : {&a, &b}) x->thread.join();
  EXPECT_TRUE(a.status.ok());
  EXPECT_TRUE(b.status.ok());
}

TEST_F(BatchGroupTest, AFailedGroupFailsEveryBatchInItAndReportsNothingApplied) {
  BatchGroup group = Group(8000);
  Caller a{Batch(1, 0)}, b{Batch(2, 10)}, c{Batch(3, 20)};
  StartHeldThenWaiting(group, {&a, &b, &c});
  gate_.ReleaseOne();  // a succeeds
  EXPECT_TRUE(gate_.AwaitCalls(2));
  gate_.Fail(absl::UnavailableError("redis went away"));
  gate_.ReleaseOne();
  for (Caller* x : {&a, &b, &c}) x->thread.join();

  EXPECT_TRUE(a.status.ok());
  for (Caller* x : {&b, &c}) {
    EXPECT_TRUE(absl::IsUnavailable(x->status)) << x->status;
    EXPECT_EQ(x->response.results_size(), 0);
    EXPECT_EQ(x->response.applied(), 0);
  }
}

// A group that fails for another reason than an unreachable Redis may owe it to one batch: each
// batch is then applied alone, and only the one at fault fails; the others get their own results
// (and result bytes).
TEST_F(BatchGroupTest, AFailedGroupIsAppliedAgainBatchByBatchSoOnlyTheBatchAtFaultFails) {
  BatchGroup group = Group(8000);
  Caller a{Batch(1, 0)}, b{Batch(2, 10)}, c{Batch(3, 20)}, d{Batch(2, 30)};
  gate_.Poison(21);  // an event of c
  StartHeldThenWaiting(group, {&a, &b, &c, &d});
  gate_.ReleaseAll();
  for (Caller* x : {&a, &b, &c, &d}) x->thread.join();

  EXPECT_EQ(gate_.calls(),
            (std::vector<std::vector<int>>{
                {0}, {10, 11, 20, 21, 22, 30, 31}, {10, 11}, {20, 21, 22}, {30, 31}}));
  EXPECT_EQ(group.regrouped(), 1);
  EXPECT_TRUE(absl::IsInternal(c.status)) << c.status;
  EXPECT_EQ(c.response.results_size(), 0);
  for (Caller* x : {&a, &b, &d}) {
    ASSERT_TRUE(x->status.ok()) << x->status;
    ASSERT_EQ(x->response.results_size(), static_cast<int>(x->events.size()));
    ASSERT_EQ(x->bytes.size(), x->events.size());
    for (size_t i = 0; i < x->events.size(); ++i) {
      EXPECT_EQ(x->bytes[i], x->events[i].arg);
      EXPECT_EQ(x->response.results(static_cast<int>(i)).index(), static_cast<int>(i));
    }
  }
  EXPECT_EQ(b.response.applied(), 1);
  EXPECT_EQ(b.response.duplicate(), 1);
}

// Grouped batches get their own slice of the result bytes.
TEST_F(BatchGroupTest, GroupedBatchesGetTheirOwnResultBytes) {
  BatchGroup group = Group(8000);
  Caller a{Batch(1, 0)}, b{Batch(2, 10)}, c{Batch(3, 20)};
  StartHeldThenWaiting(group, {&a, &b, &c});
  gate_.ReleaseAll();
  for (Caller* x : {&a, &b, &c}) x->thread.join();
  EXPECT_EQ(gate_.calls().size(), 2u);
  EXPECT_EQ(b.bytes, (std::vector<uint8_t>{10, 11}));
  EXPECT_EQ(c.bytes, (std::vector<uint8_t>{20, 21, 22}));
}

}  // namespace
}  // namespace uhc
