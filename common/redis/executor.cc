#include "common/redis/executor.h"

#include <algorithm>

namespace uhc {
namespace {

ExecutorLimits Normalized(ExecutorLimits limits) {
  limits.threads = std::max(limits.threads, 1);
  if (limits.max_running_per_caller <= 0 || limits.max_running_per_caller > limits.threads) {
    limits.max_running_per_caller = limits.threads;
  }
  if (limits.max_queued_per_caller == 0 || limits.max_queued_per_caller > limits.max_queue) {
    limits.max_queued_per_caller = limits.max_queue;
  }
  return limits;
}

ExecutorLimits Unfair(int threads, size_t max_queue) {
  ExecutorLimits limits;
  limits.threads = threads;
  limits.max_queue = max_queue;
  return limits;
}

}  // namespace

RedisExecutor::RedisExecutor(const RedisOptions& options, int threads, size_t max_queue)
    : RedisExecutor(options, Unfair(threads, max_queue)) {}

RedisExecutor::RedisExecutor(const RedisOptions& options, const ExecutorLimits& limits)
    : RedisExecutor([options] { return MakeRedisClient(options); }, limits) {}

RedisExecutor::RedisExecutor(const ClientFactory& make_client, int threads, size_t max_queue)
    : RedisExecutor(make_client, Unfair(threads, max_queue)) {}

RedisExecutor::RedisExecutor(const ClientFactory& make_client, const ExecutorLimits& limits)
    : limits_(Normalized(limits)) {
  for (int i = 0; i < limits_.threads; ++i) {
    workers_.emplace_back([this, client = make_client()]() mutable { Work(std::move(client)); });
  }
}

RedisExecutor::~RedisExecutor() { Shutdown(); }

void RedisExecutor::MaybeTakeTurnLocked(const std::string& name, Caller& caller) {
  if (caller.in_turn || caller.waiting.empty() ||
      caller.running >= limits_.max_running_per_caller) {
    return;
  }
  caller.in_turn = true;
  turns_.push_back(name);
  cv_.notify_one();
}

RedisExecutor::Admission RedisExecutor::SubmitFor(absl::string_view caller_name, Task task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return Admission::kStopped;
  if (waiting_ >= limits_.max_queue) return Admission::kQueueFull;
  auto it = callers_.find(caller_name);
  if (it == callers_.end()) it = callers_.emplace(std::string(caller_name), Caller{}).first;
  Caller& caller = it->second;
  if (caller.waiting.size() >= limits_.max_queued_per_caller) {
    if (caller.waiting.empty() && caller.running == 0) callers_.erase(it);
    return Admission::kCallerQueueFull;
  }
  caller.waiting.push_back(std::move(task));
  ++waiting_;
  if (depth_ != nullptr) depth_->Set(static_cast<double>(waiting_));
  MaybeTakeTurnLocked(it->first, caller);
  return Admission::kQueued;
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
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // Done when stopping with nothing waiting. A caller at its running limit is not in turns_,
    // so also wait for the thread that runs its task to finish it.
    cv_.wait(lock, [this] { return !turns_.empty() || (stopping_ && waiting_ == 0); });
    if (turns_.empty()) {
      cv_.notify_all();  // another worker may be waiting for the same condition
      return;
    }
    std::string name = std::move(turns_.front());
    turns_.pop_front();
    Caller& caller = callers_.at(name);
    caller.in_turn = false;
    Task task = std::move(caller.waiting.front());
    caller.waiting.pop_front();
    --waiting_;
    ++caller.running;
    if (depth_ != nullptr) depth_->Set(static_cast<double>(waiting_));
    MaybeTakeTurnLocked(name, caller);  // to the back of the line: others go first
    lock.unlock();
    task(*client);
    task = nullptr;  // its captures go before the lock is taken again
    lock.lock();
    // `caller` is still there: an entry with a task running is not erased, and std::map
    // references survive other insertions and erasures.
    --caller.running;
    if (caller.waiting.empty() && caller.running == 0) {
      callers_.erase(name);
    } else {
      MaybeTakeTurnLocked(name, caller);
    }
  }
}

}  // namespace uhc
