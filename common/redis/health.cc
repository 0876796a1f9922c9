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
  if (metrics_ != nullptr) {
    metrics_
        ->AddGauge("uhc_redis_refused",
                   "1 while this service refuses the Redis it reaches (another NIK key or bucket "
                   "layout, a newer data layout, an eviction policy, a module of another "
                   "version: the log says which), else 0.")
        ->Set(!healthy && absl::IsFailedPrecondition(problem) ? 1 : 0);
  }
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

bool RedisHealth::ReportNode(const std::string& node, const absl::Status& status) {
  const bool up = status.ok();
  // A node first seen after the first probe (a promoted replica) counts as one that returned.
  const bool known_before = !node_up_.empty();
  auto [it, first] = node_up_.try_emplace(node, up);
  const bool changed = (!first && it->second != up) || (first && known_before && up);
  it->second = up;
  if ((first && !up) || changed) {
    if (up) {
      LogInfo("redis node reachable", {{"node", node}});
    } else {
      LogWarning("redis node unreachable", {{"node", node}, {"error", status.message()}});
    }
  }
  if (metrics_ != nullptr && node != "cluster") {
    metrics_
        ->AddGauge("uhc_redis_node_up",
                   "1 while this service reaches the Redis primary, 0 while it does not.",
                   {{"node", node}})
        ->Set(up ? 1 : 0);
  }
  return changed && up;
}

void RedisHealth::Run() {
  // One client while any primary answers; a fresh one after every primary was lost, so a
  // restarted Redis (or a cluster whose every shard failed over) is noticed at once.
  std::unique_ptr<RedisClient> client;
  // `on_up` passed since every primary was last unreachable: the service serves. One shard
  // unreachable does not end it (its calls fail, retryably, the others' succeed), so one shard's
  // failover never makes every pod unready at once.
  bool serving = false;
  const auto ping = [](RedisConnection& c) {
    absl::StatusOr<ReplyPtr> pong = c.Command({"PING"});
    return pong.ok() ? ReplyStatus(pong->get()) : pong.status();
  };
  for (;;) {
    if (client == nullptr) client = MakeRedisClient(options_);
    absl::Status problem;
    bool any_up = false;
    bool returned = false;
    std::map<std::string, bool> probed;
    for (const auto& [node, status] : client->ProbeEachPrimary(ping)) {
      any_up = any_up || status.ok();
      if (!status.ok() && problem.ok()) problem = status;
      returned = ReportNode(node, status) || returned;
      probed[node] = true;
    }
    // Nodes that are no longer primaries (failed over, removed) are forgotten: their gauges go
    // back to 1, "not a primary this service lacks".
    for (auto it = node_up_.begin(); it != node_up_.end();) {
      if (probed.count(it->first) == 0 && !probed.count("cluster")) {
        if (metrics_ != nullptr && it->first != "cluster") {
          metrics_->AddGauge("uhc_redis_node_up", "", {{"node", it->first}})->Set(1);
        }
        it = node_up_.erase(it);
      } else {
        ++it;
      }
    }
    if (!any_up) {
      serving = false;
      if (std::vector<std::string> known = client->KnownNodes(); !known.empty()) {
        options_.cluster_seeds = std::move(known);
      }
      client.reset();
    } else if ((!serving || returned) && on_up_) {
      // At the first contact, and again when a node returns (a restarted node may have lost its
      // functions or come back with other settings).
      absl::Status up = on_up_(*client);
      if (up.ok()) {
        serving = true;
      } else if (!serving || absl::IsFailedPrecondition(up)) {
        serving = false;
        problem = up;
      } else {
        LogWarning("redis node returned but its checks failed; retried when a node returns",
                   {{"error", up.message()}});
      }
    } else if (!on_up_) {
      serving = true;
    }
    Set(serving, problem.ok() ? absl::UnavailableError("redis not ready") : problem);
    std::unique_lock<std::mutex> lock(mu_);
    // Probe faster while down so serving resumes quickly after Redis returns.
    absl::Duration wait = serving ? interval_ : std::min(interval_, absl::Milliseconds(100));
    cv_.wait_for(lock, absl::ToChronoMilliseconds(wait), [this] { return stop_ || wake_; });
    if (stop_) return;
    wake_ = false;
  }
}

}  // namespace uhc
