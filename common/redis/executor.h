#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "common/observability/metrics.h"
#include "common/redis/client.h"

namespace uhc {

// How an executor shares its threads. A zero per-caller limit means "no limit of its own" (the
// thread count, the queue size): one caller may then take everything, as callers of the plain
// Submit do.
struct ExecutorLimits {
  int threads = 1;
  size_t max_queue = 64;             // tasks waiting, all callers together
  int max_running_per_caller = 0;    // threads one caller may hold at once
  size_t max_queued_per_caller = 0;  // tasks one caller may have waiting
};

// Runs Redis work off the gRPC callback threads (which must never block on I/O). Each worker
// thread owns one RedisClient (standalone or cluster), so a task has its connections to itself
// for its whole run (pipelines stay on one connection per node). The queue is bounded: Submit
// refuses work instead of piling it up, and the caller answers RESOURCE_EXHAUSTED.
//
// Fairness: tasks are submitted for a caller (a connection or a token; the key is opaque). Free
// threads take the callers that have work waiting in turn (round robin), one task each, so a
// caller with a hundred tasks queued delays another caller's single task by at most one task
// per thread. With max_running_per_caller below the thread count, one caller's slow tasks never
// hold every thread (several callers' together can: another caller then waits for one of their
// tasks to end). A caller over max_queued_per_caller is refused alone; the others keep their room.
class RedisExecutor {
 public:
  using Task = std::function<void(RedisClient&)>;

  using ClientFactory = std::function<std::unique_ptr<RedisClient>()>;

  enum class Admission { kQueued, kQueueFull, kCallerQueueFull, kStopped };

  RedisExecutor(const RedisOptions& options, int threads, size_t max_queue);
  RedisExecutor(const RedisOptions& options, const ExecutorLimits& limits);
  // Each worker's client from `make_client` (tests pass a fake).
  RedisExecutor(const ClientFactory& make_client, int threads, size_t max_queue);
  RedisExecutor(const ClientFactory& make_client, const ExecutorLimits& limits);
  // Finishes queued tasks, then joins.
  ~RedisExecutor();

  // False when the queue is full or the executor is shut down; the task is then not run. All
  // such tasks count as one caller (first come, first served among them).
  bool Submit(Task task) { return SubmitFor("", std::move(task)) == Admission::kQueued; }
  // Queues `task` for `caller`; it is not run unless kQueued.
  Admission SubmitFor(absl::string_view caller, Task task);
  // Stops accepting, runs what is queued, joins. Idempotent.
  void Shutdown();
  // Where the queue's length is published (may be null). Set before the first Submit.
  void set_depth_gauge(Gauge* gauge) { depth_ = gauge; }

  const ExecutorLimits& limits() const { return limits_; }

 private:
  struct Caller {
    std::deque<Task> waiting;
    int running = 0;
    bool in_turn = false;  // listed in turns_
  };

  void Work(std::unique_ptr<RedisClient> client);
  // Lists `name` in turns_ if it has work waiting and room to run it.
  void MaybeTakeTurnLocked(const std::string& name, Caller& caller)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ExecutorLimits limits_;
  Gauge* depth_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  // Callers with work waiting or running; erased when they have neither.
  std::map<std::string, Caller, std::less<>> callers_ ABSL_GUARDED_BY(mu_);
  // Callers whose next task may run now, in turn order.
  std::deque<std::string> turns_ ABSL_GUARDED_BY(mu_);
  size_t waiting_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace uhc
