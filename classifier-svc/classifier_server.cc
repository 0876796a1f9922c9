#include "classifier-svc/classifier_server.h"

#include "common/config/files.h"
#include "common/observability/log.h"
#include "common/server/flags.h"

namespace uhc {

absl::StatusOr<std::unique_ptr<ClassifierServer>> ClassifierServer::Start(
    ClassifierServerOptions options) {
  std::unique_ptr<ClassifierServer> s(new ClassifierServer());
  s->options_ = options;
  absl::StatusOr<RegionRegistry> regions = LoadRegions(options.data_dir);
  if (!regions.ok()) return regions.status();
  s->regions_ = std::make_unique<RegionRegistry>(*std::move(regions));
  absl::StatusOr<PolicySet> policies = LoadPolicies(options.policy_dir);
  if (!policies.ok()) return policies.status();
  s->policies_ = std::make_unique<PolicySet>(*std::move(policies));

  s->metrics_ = std::make_unique<MetricsRegistry>();
  s->cluster_counters_ = std::make_unique<RedisClusterCounters>(s->metrics_.get());
  options.redis.cluster_counters = s->cluster_counters_.get();
  s->host_ = std::make_unique<ServerHost>(options.server, s->metrics_.get());
  s->hub_ = std::make_unique<TierChangeHub>();
  s->refresher_ =
      std::make_unique<Refresher>(options.redis, s->regions_.get(), s->policies_.get(),
                                  options.refresh_interval, s->hub_.get(), s->metrics_.get());
  s->executor_ = std::make_unique<RedisExecutor>(options.redis, 1, 64);
  s->executor_->set_depth_gauge(s->metrics_->AddGauge(
      "uhc_redis_queue_depth", "Redis tasks waiting for an executor thread."));
  s->hub_->set_gauge(
      s->metrics_->AddGauge("uhc_watch_subscribers", "Live WatchTierChanges streams."));
  absl::StatusOr<std::unique_ptr<TokenAuthorizer>> auth =
      LoadTokensIfConfigured(options.token_file);
  if (!auth.ok()) return auth.status();
  s->auth_ = *std::move(auth);
  s->service_ = std::make_unique<ClassifierServiceImpl>(s->regions_.get(), s->policies_.get(),
                                                        s->refresher_.get(), s->hub_.get(),
                                                        s->executor_.get(), s->auth_.get());
  s->host_->AddService(s->service_.get(), "uhc.v1.ClassifierService");
  if (absl::Status started = s->host_->Start(); !started.ok()) return started;
  ClassifierServer* self = s.get();
  // Readiness follows the refresher: ready once a snapshot is read and while it is fresh. A
  // stale classifier still answers (marked stale), so liveness never depends on Redis.
  s->refresher_->set_on_ready([self](bool ready) {
    std::lock_guard<std::mutex> lock(self->mu_);
    if (!self->stop_) self->host_->SetReady(ready);
  });
  s->refresher_->set_resume_window(options.resume_window);
  s->refresher_->Start();
  s->keepalive_ = std::thread([self] { self->KeepAliveLoop(); });
  LogInfo("classifier-svc serving",
          {{"port", s->host_->port()}, {"metrics_port", s->host_->metrics_port()}});
  return s;
}

ClassifierServer::~ClassifierServer() { Shutdown(); }

void ClassifierServer::KeepAliveLoop() {
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.keepalive_interval),
                     [this] { return stop_; })) {
      return;
    }
    lock.unlock();
    hub_->KeepAliveAll();
  }
}

void ClassifierServer::Shutdown() {
  if (host_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (keepalive_.joinable()) keepalive_.join();
  TierChangeHub* hub = hub_.get();
  host_->Shutdown([hub] { hub->CloseAll(); });
  refresher_->Stop();
  executor_->Shutdown();
}

}  // namespace uhc
