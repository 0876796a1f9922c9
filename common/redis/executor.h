#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/observability/metrics.h"
#include "common/redis/client.h"

namespace uhc {

// Runs Redis work off the gRPC callback threads (which must never block on I/O). Each worker
// thread owns one RedisClient (standalone or cluster), so a task has its connections to itself
// for its whole run (pipelines stay on one connection per node). The queue is bounded: Submit
// refuses work instead of piling it up, and the caller answers RESOURCE_EXHAUSTED.
class RedisExecutor {
 public:
  using Task = std::function<void(RedisClient&)>;

  using ClientFactory = std::function<std::unique_ptr<RedisClient>()>;

  RedisExecutor(const RedisOptions& options, int threads, size_t max_queue);
  // Each worker's client from `make_client` (tests pass a fake).
  RedisExecutor(const ClientFactory& make_client, int threads, size_t max_queue);
  // Finishes queued tasks, then joins.
  ~RedisExecutor();

  // False when the queue is full or the executor is shut down; the task is then not run.
  bool Submit(Task task);
  // Stops accepting, runs what is queued, joins. Idempotent.
  void Shutdown();
  // Where the queue's length is published (may be null). Set before the first Submit.
  void set_depth_gauge(Gauge* gauge) { depth_ = gauge; }

 private:
  void Work(std::unique_ptr<RedisClient> client);

  const size_t max_queue_;
  Gauge* depth_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace uhc
