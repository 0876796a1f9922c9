#include "classifier-svc/classifier_server.h"

#include <malloc.h>

#include "absl/strings/str_cat.h"
#include "common/config/files.h"
#include "common/observability/log.h"
#include "common/server/flags.h"

namespace uhc {
namespace {

constexpr size_t kTrimAfterBytes = 4 << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<ClassifierServer>> ClassifierServer::Start(
    ClassifierServerOptions options) {
  if (options.resume_window < absl::Hours(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--watch_resume_window_hours must be at least 1 (got ",
        absl::FormatDuration(options.resume_window),
        "): the change log is shared, so a short window trims it for every replica and expires "
        "their watchers' resume tokens"));
  }
  const ExecutorLimits& reads = options.past_reads;
  if (reads.threads < 1 || reads.max_queue < 1 || reads.max_running_per_caller < 1 ||
      reads.max_running_per_caller > reads.threads || reads.max_queued_per_caller < 1 ||
      reads.max_queued_per_caller > reads.max_queue) {
    return absl::InvalidArgumentError(
        "Redis read limits: need --past_read_threads >= 1, --past_read_queue >= 1, "
        "1 <= --past_reads_per_caller <= --past_read_threads and 1 <= "
        "--past_read_queue_per_caller <= --past_read_queue");
  }
  if (options.max_stale < absl::Seconds(1) || options.max_stale > absl::Hours(24)) {
    return absl::InvalidArgumentError(absl::StrCat("--max_stale_seconds must be 1..86400 (got ",
                                                   absl::FormatDuration(options.max_stale), ")"));
  }
  if (options.watch.max_streams < 1 || options.watch.max_queued_changes < 1 ||
      options.watch.max_queued_bytes < 1024) {
    return absl::InvalidArgumentError(
        "watch limits: need --max_watch_streams >= 1, --watch_max_queued_changes >= 1 and "
        "--watch_max_queued_kib >= 1");
  }
  std::unique_ptr<ClassifierServer> s(new ClassifierServer());
  s->options_ = options;
  absl::StatusOr<RegionRegistry> regions = LoadRegions(options.data_dir);
  if (!regions.ok()) return regions.status();
  s->regions_ = std::make_unique<RegionRegistry>(*std::move(regions));
  absl::StatusOr<PolicySet> policies = LoadPolicies(options.policy_dir);
  if (!policies.ok()) return policies.status();
  s->policies_ = std::make_unique<PolicySet>(*std::move(policies));

  // A rollback onto data a later release wrote is refused before serving (when Redis answers; a
  // Redis down at start is served stale, and checked when it returns).
  {
    std::unique_ptr<RedisClient> redis = MakeRedisClient(options.redis);
    absl::StatusOr<int> layout = StoredDataLayout(*redis);
    if (!layout.ok() && absl::IsFailedPrecondition(layout.status())) return layout.status();
  }
  s->metrics_ = std::make_unique<MetricsRegistry>();
  s->settings_ = std::make_unique<RedisSettingsMonitor>(s->metrics_.get());
  s->cluster_counters_ = std::make_unique<RedisClusterCounters>(s->metrics_.get());
  options.redis.cluster_counters = s->cluster_counters_.get();
  s->host_ = std::make_unique<ServerHost>(options.server, s->metrics_.get());
  s->hub_ = std::make_unique<TierChangeHub>();
  s->refresher_ =
      std::make_unique<Refresher>(options.redis, s->regions_.get(), s->policies_.get(),
                                  options.refresh_interval, s->hub_.get(), s->metrics_.get());
  s->executor_ = std::make_unique<RedisExecutor>(options.redis, options.past_reads);
  s->watch_streams_ = std::make_unique<WatchStreams>(options.watch);
  s->executor_->set_depth_gauge(s->metrics_->AddGauge(
      "uhc_redis_queue_depth", "Redis tasks waiting for an executor thread."));
  s->hub_->set_gauge(
      s->metrics_->AddGauge("uhc_watch_subscribers", "Live WatchTierChanges streams."));
  absl::StatusOr<std::unique_ptr<TokenAuthorizer>> auth =
      LoadTokensIfConfigured(options.token_file);
  if (!auth.ok()) return auth.status();
  s->auth_ = *std::move(auth);
  s->service_ = std::make_unique<ClassifierServiceImpl>(
      s->regions_.get(), s->policies_.get(), s->refresher_.get(), s->hub_.get(), s->executor_.get(),
      s->auth_.get(), s->watch_streams_.get());
  s->host_->AddService(s->service_.get(), "uhc.v1.ClassifierService");
  if (absl::Status started = s->host_->Start(); !started.ok()) return started;
  ClassifierServer* self = s.get();
  // Readiness follows the refresher: ready once a snapshot is read and while it is fresh. A
  // stale classifier still answers (marked stale), so liveness never depends on Redis.
  // Each time Redis becomes readable again: its settings, logged and counted (the classifier only
  // reads, so it serves whatever they are).
  s->refresher_->set_on_ready([self, redis = options.redis](bool ready) {
    if (ready && !self->ready_seen_) {
      std::unique_ptr<RedisClient> client = MakeRedisClient(redis);
      (void)self->settings_->Check(*client);
    }
    self->ready_seen_ = ready;
    std::lock_guard<std::mutex> lock(self->mu_);
    if (!self->stop_) self->host_->SetReady(ready);
  });
  s->refresher_->set_resume_window(options.resume_window);
  s->refresher_->set_max_stale(options.max_stale);
  s->refresher_->Start();
  s->keepalive_.Start(
      [self] {
        self->KeepAliveOnce();
        return self->options_.keepalive_interval;
      },
      options.keepalive_interval);
  LogInfo("classifier-svc serving",
          {{"port", s->host_->port()}, {"metrics_port", s->host_->metrics_port()}});
  return s;
}

ClassifierServer::~ClassifierServer() { Shutdown(); }

void ClassifierServer::KeepAliveOnce() {
  hub_->KeepAliveAll();
  // glibc keeps memory freed by other threads in their arenas: after watchers that held a
  // lot leave, RSS stays up (issue #25: 167 -> 663 MiB and not back) unless it is trimmed.
  // Here, off the request path, and only when there is something worth returning.
  if (watch_streams_->TakeReleased() >= kTrimAfterBytes) malloc_trim(0);
}

void ClassifierServer::Shutdown() {
  if (host_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  keepalive_.Stop();
  TierChangeHub* hub = hub_.get();
  host_->Shutdown([hub] { hub->CloseAll(); });
  refresher_->Stop();
  executor_->Shutdown();
}

}  // namespace uhc
