#include "common/redis/health.h"

#include "absl/strings/str_cat.h"
#include "common/observability/log.h"

namespace uhc {

RedisHealth::RedisHealth(RedisOptions options, absl::Duration interval,
                         std::function<void(bool)> on_change)
    : options_(std::move(options)), interval_(interval), on_change_(std::move(on_change)) {}

RedisHealth::~RedisHealth() { Stop(); }

void RedisHealth::Start() {
  thread_ = std::thread([this] { Run(); });
}

void RedisHealth::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RedisHealth::ReportFailure() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

absl::Status RedisHealth::NotServing() const {
  std::lock_guard<std::mutex> lock(problem_mu_);
  return problem_;
}

void RedisHealth::Set(bool healthy, const absl::Status& problem) {
  if (!healthy) {
    std::lock_guard<std::mutex> lock(problem_mu_);
    problem_ = absl::IsFailedPrecondition(problem)
                   ? problem
                   : absl::UnavailableError(absl::StrCat("redis unreachable (", problem.message(),
                                                         "); retry with backoff"));
  }
  healthy_.store(healthy, std::memory_order_release);
  int value = healthy ? 1 : 0;
  if (reported_.exchange(value) != value) {
    if (healthy) {
      LogInfo("redis reachable", {{"host", options_.host}, {"port", options_.port}});
    } else if (absl::IsFailedPrecondition(problem)) {
      LogError("refusing to serve this redis",
               {{"host", options_.host}, {"port", options_.port}, {"error", problem.message()}});
    } else {
      LogWarning("redis unreachable",
                 {{"host", options_.host}, {"port", options_.port}, {"error", problem.message()}});
    }
    on_change_(healthy);
  }
}

void RedisHealth::Run() {
  // A fresh client per probe after a failure, so a restarted Redis (or a new primary after a
  // failover) is noticed at once and gets `on_up`.
  std::unique_ptr<RedisClient> client;
  const auto ping = [](RedisConnection& c) {
    absl::StatusOr<ReplyPtr> pong = c.Command({"PING"});
    return pong.ok() ? ReplyStatus(pong->get()) : pong.status();
  };
  for (;;) {
    const bool fresh = client == nullptr;
    if (fresh) client = MakeRedisClient(options_);
    absl::Status problem = client->ForEachPrimary(ping);
    if (problem.ok() && fresh && on_up_) problem = on_up_(*client);
    const bool ok = problem.ok();
    if (!ok) {
      if (std::vector<std::string> known = client->KnownNodes(); !known.empty()) {
        options_.cluster_seeds = std::move(known);
      }
      client.reset();
    }
    Set(ok, problem);
    std::unique_lock<std::mutex> lock(mu_);
    // Probe faster while down so serving resumes quickly after Redis returns.
    absl::Duration wait = ok ? interval_ : std::min(interval_, absl::Milliseconds(100));
    cv_.wait_for(lock, absl::ToChronoMilliseconds(wait), [this] { return stop_ || wake_; });
    if (stop_) return;
    wake_ = false;
  }
}

}  // namespace uhc
