#include "common/redis/health.h"

#include "absl/strings/str_cat.h"
#include "common/domain/errors.h"
#include "common/observability/log.h"

namespace uhc {

RedisHealth::RedisHealth(RedisOptions options, absl::Duration interval,
                         std::function<void(bool)> on_change)
    : options_(std::move(options)), interval_(interval), on_change_(std::move(on_change)) {}

RedisHealth::~RedisHealth() { Stop(); }

void RedisHealth::Start() {
  loop_.Start([this] { return ProbeOnce(); });
}

void RedisHealth::Stop() { loop_.Stop(); }

void RedisHealth::ReportFailure() { loop_.Wake(); }

absl::Status RedisHealth::NotServing() const {
  std::lock_guard<std::mutex> lock(problem_mu_);
  return problem_;
}

void RedisHealth::Set(bool healthy, const absl::Status& problem) {
  if (!healthy) {
    std::lock_guard<std::mutex> lock(problem_mu_);
    // A misconfigured store (eviction, another NIK key, other bucket bits, an unknown data
    // layout) is FAILED_PRECONDITION / STORE_MISCONFIGURED to callers; anything else UNAVAILABLE.
    problem_ = absl::IsFailedPrecondition(problem)
                   ? WithReason(problem, reason::kStoreMisconfigured)
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

absl::Duration RedisHealth::ProbeOnce() {
  // One client while any primary answers; a fresh one after every primary was lost, so a
  // restarted Redis (or a cluster whose every shard failed over) is noticed at once.
  // `serving_`: `on_up` passed since every primary was last unreachable: the service serves. One
  // shard unreachable does not end it (its calls fail, retryably, the others' succeed), so one
  // shard's failover never makes every pod unready at once.
  const auto ping = [](RedisConnection& c) {
    absl::StatusOr<ReplyPtr> pong = c.Command({"PING"});
    return pong.ok() ? ReplyStatus(pong->get()) : pong.status();
  };
  if (client_ == nullptr) client_ = MakeRedisClient(options_);
  absl::Status problem;
  bool any_up = false;
  bool returned = false;
  std::map<std::string, bool> probed;
  for (const auto& [node, status] : client_->ProbeEachPrimary(ping)) {
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
    serving_ = false;
    if (std::vector<std::string> known = client_->KnownNodes(); !known.empty()) {
      options_.cluster_seeds = std::move(known);
    }
    client_.reset();
  } else if ((!serving_ || returned) && on_up_) {
    // At the first contact, and again when a node returns (a restarted node may have lost its
    // functions or come back with other settings).
    absl::Status up = on_up_(*client_);
    if (up.ok()) {
      serving_ = true;
    } else if (!serving_ || absl::IsFailedPrecondition(up)) {
      serving_ = false;
      problem = up;
    } else {
      LogWarning("redis node returned but its checks failed; retried when a node returns",
                 {{"error", up.message()}});
    }
  } else if (!on_up_) {
    serving_ = true;
  }
  Set(serving_, problem.ok() ? absl::UnavailableError("redis not ready") : problem);
  // Probe faster while down so serving resumes quickly after Redis returns.
  return serving_ ? interval_ : std::min(interval_, absl::Milliseconds(100));
}

}  // namespace uhc
