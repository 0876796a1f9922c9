#include "common/redis/executor.h"

namespace uhc {

RedisExecutor::RedisExecutor(const RedisOptions& options, int threads, size_t max_queue)
    : RedisExecutor([options] { return MakeRedisClient(options); }, threads, max_queue) {}

RedisExecutor::RedisExecutor(const ClientFactory& make_client, int threads, size_t max_queue)
    : max_queue_(max_queue) {
  for (int i = 0; i < threads; ++i) {
    workers_.emplace_back([this, client = make_client()]() mutable { Work(std::move(client)); });
  }
}

RedisExecutor::~RedisExecutor() { Shutdown(); }

bool RedisExecutor::Submit(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(task));
    if (depth_ != nullptr) depth_->Set(static_cast<double>(queue_.size()));
  }
  cv_.notify_one();
  return true;
}

void RedisExecutor::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void RedisExecutor::Work(std::unique_ptr<RedisClient> client) {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      if (depth_ != nullptr) depth_->Set(static_cast<double>(queue_.size()));
    }
    task(*client);
  }
}

}  // namespace uhc
