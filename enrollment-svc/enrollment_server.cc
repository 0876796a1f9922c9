#include "enrollment-svc/enrollment_server.h"

#include <future>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/config/files.h"
#include "common/observability/log.h"
#include "common/redis/history.h"
#include "common/redis/schema.h"
#include "common/redis/settings.h"
#include "common/server/flags.h"
#include "enrollment-svc/event_applier.h"

namespace uhc {
namespace {

// Records the bucket layout and the NIK key's fingerprint on first use (uhc:meta).
// FailedPrecondition if the data was written with another layout (every participant would be
// looked up in the wrong bucket) or another key (every NIK would be filed under a new hash:
// everyone counted twice, with no error anywhere); Unavailable if Redis cannot say. Data written
// before fingerprints were kept gets this key's on first start.
absl::Status CheckMeta(RedisClient& redis, int bits, const std::string& fingerprint) {
  const std::string value = std::to_string(bits);
  absl::StatusOr<std::vector<ReplyPtr>> replies =
      redis.Pipeline({{"HSETNX", kMetaKey, kMetaBucketBits, value},
                      {"HSETNX", kMetaKey, kMetaNikKey, fingerprint},
                      {"HMGET", kMetaKey, kMetaBucketBits, kMetaNikKey}});
  if (!replies.ok()) return replies.status();
  const redisReply* stored = (*replies)[2].get();
  if (absl::Status s = ReplyStatus(stored); !s.ok()) return s;
  if (stored->type != REDIS_REPLY_ARRAY || stored->elements != 2 ||
      stored->element[0]->type != REDIS_REPLY_STRING ||
      stored->element[1]->type != REDIS_REPLY_STRING) {
    return absl::UnavailableError("uhc:meta unreadable");
  }
  const std::string bits_stored(stored->element[0]->str, stored->element[0]->len);
  const std::string key_stored(stored->element[1]->str, stored->element[1]->len);
  if (bits_stored != value) {
    return absl::FailedPreconditionError(absl::StrCat("--bucket_bits ", bits, " differs from ",
                                                      bits_stored,
                                                      ", the value the data in Redis was "
                                                      "written with (uhc:meta)"));
  }
  if (key_stored != fingerprint) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the NIK HMAC secret is not the key the data in Redis was written with (uhc:meta nik_key ",
        key_stored, ", this key's fingerprint ", fingerprint,
        "): serving would file every NIK under a new hash. Use the deployment's key; to change "
        "keys, re-ingest into a new keyspace (docs/DEPLOY.md)"));
  }
  return absl::OkStatus();
}

// Whether Redis's uhc_module.so (if any) speaks this release's calls: FailedPrecondition if it is
// another version (one before version 2 would take an Enroll's kPrioDecides for an inactive
// enrolment, silently), or if `required` (--apply_engine module) and Redis has no module;
// Unavailable if Redis cannot say. In a cluster the node asked stands for all (docs/DEPLOY.md).
absl::Status CheckApplyModule(RedisClient& redis, bool required) {
  absl::StatusOr<ReplyPtr> reply = redis.Command(
      {"COMMAND", "INFO", apply_abi::kApplyCommand, apply_abi::kModuleVersionCommand});
  if (!reply.ok()) return reply.status();
  if (absl::Status s = ReplyStatus(reply->get()); !s.ok()) return s;
  const redisReply* r = reply->get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
    return absl::UnavailableError("COMMAND INFO: unexpected reply");
  }
  if (r->element[0]->type != REDIS_REPLY_ARRAY) {
    if (!required) return absl::OkStatus();
    return absl::FailedPreconditionError(
        "--apply_engine module: Redis has no uhc.apply_v4; start it with --loadmodule "
        "<path>/uhc_module.so (docs/DEPLOY.md) or use --apply_engine auto");
  }
  long long version = 1;  // a module without uhc.version
  if (r->element[1]->type == REDIS_REPLY_ARRAY) {
    absl::StatusOr<ReplyPtr> answer = redis.Command({apply_abi::kModuleVersionCommand});
    if (!answer.ok()) return answer.status();
    if (absl::Status s = ReplyStatus(answer->get()); !s.ok()) return s;
    if ((*answer)->type != REDIS_REPLY_INTEGER) {
      return absl::UnavailableError("uhc.version: unexpected reply");
    }
    version = (*answer)->integer;
  }
  if (version != apply_abi::kModuleVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Redis has uhc_module.so version ", version, "; this release needs version ",
        apply_abi::kModuleVersion,
        ": upgrade the Redis image's module with the release, or unload it (docs/DEPLOY.md)"));
  }
  return absl::OkStatus();
}

// Moves every aggregate of layout 1 or 2 to layout 3 (uhc_migrate_layout_v3, one call per region,
// idempotent and safe beside another replica doing the same), then records layout 3 in uhc:meta,
// once: later starts find it and do nothing. FailedPrecondition for data of a newer layout (a
// rollback onto what a later release wrote); Unavailable if Redis cannot say.
// Whether uhc:meta says the data is in this release's layout (false: older, or not said yet);
// FailedPrecondition for a newer one.
absl::StatusOr<bool> InOurLayout(RedisClient& redis) {
  absl::StatusOr<int> layout = StoredDataLayout(redis);
  if (!layout.ok()) return layout.status();
  return *layout == kDataLayout;
}

absl::Status MigrateLayouts(RedisClient& redis, const RegionRegistry& regions) {
  absl::StatusOr<bool> done = InOurLayout(redis);
  if (!done.ok()) return done.status();
  if (*done) return absl::OkStatus();
  std::vector<std::string> keys;
  for (const Region* r : regions.all()) keys.push_back(AggregateKey(r->code));
  RedisCommands calls;
  for (const std::string& key : keys) {
    calls.push_back({"FCALL", apply_abi::kMigrateLayoutFunction, "1", key});
  }
  absl::StatusOr<std::vector<ReplyPtr>> replies = redis.Pipeline(calls);
  if (!replies.ok()) return replies.status();
  int moved = 0;
  for (size_t i = 0; i < replies->size(); ++i) {
    const redisReply* r = (*replies)[i].get();
    if (absl::Status s = ReplyStatus(r); !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("moving ", keys[i], " to layout 3 failed: ", s.message()));
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) ++moved;
  }
  absl::StatusOr<ReplyPtr> recorded =
      redis.Command({"HSET", kMetaKey, kMetaLayout, std::to_string(kDataLayout)});
  if (!recorded.ok()) return recorded.status();
  if (absl::Status s = ReplyStatus(recorded->get()); !s.ok()) return s;
  LogInfo("aggregates in layout 3",
          {{"moved", moved}, {"regions", static_cast<int64_t>(keys.size())}});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<EnrollmentServer>> EnrollmentServer::Start(
    EnrollmentServerOptions options) {
  std::unique_ptr<EnrollmentServer> s(new EnrollmentServer());
  s->options_ = options;
  absl::StatusOr<RegionRegistry> regions = LoadRegions(options.data_dir);
  if (!regions.ok()) return regions.status();
  s->regions_ = std::make_unique<RegionRegistry>(*std::move(regions));
  if (absl::Status secret = CheckNikSecret(options.hmac_secret); !secret.ok()) return secret;
  absl::StatusOr<NikKeyer> keyer = NikKeyer::Create(options.hmac_secret, options.bucket_bits);
  if (!keyer.ok()) return keyer.status();
  s->keyer_ = std::make_unique<NikKeyer>(*std::move(keyer));
  const std::string fingerprint = s->keyer_->Fingerprint();

  // Check the bucket layout and the key once before serving: a mismatch must stop the service.
  {
    std::unique_ptr<RedisClient> redis = MakeRedisClient(options.redis);
    absl::Status layout = CheckMeta(*redis, options.bucket_bits, fingerprint);
    if (absl::IsFailedPrecondition(layout)) return layout;
    absl::StatusOr<bool> ours = InOurLayout(*redis);
    if (!ours.ok() && absl::IsFailedPrecondition(ours.status())) return ours.status();
  }

  // Every client reloads the library on a primary that lost it (and retries), so no manual
  // FUNCTION LOAD is ever needed.
  options.redis.function_libraries = {kUhcApplyV3Lua};
  if (options.history_days != 0 &&
      options.history_days < EnrollmentServerOptions::kMinHistoryDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("history_days ", options.history_days, " is below ",
                     EnrollmentServerOptions::kMinHistoryDays, " (two years); 0 keeps everything"));
  }
  if (options.limits.events_per_redis_call < 1 ||
      options.limits.events_per_redis_call > EnrollmentLimits::kMaxEventsPerRedisCall) {
    return absl::InvalidArgumentError(
        absl::StrCat("events_per_call ", options.limits.events_per_redis_call, " is outside 1..",
                     EnrollmentLimits::kMaxEventsPerRedisCall));
  }
  if (options.limits.concurrent_groups < 1 ||
      options.limits.concurrent_groups > EnrollmentLimits::kMaxConcurrentGroups) {
    return absl::InvalidArgumentError(
        absl::StrCat("concurrent_groups ", options.limits.concurrent_groups, " is outside 1..",
                     EnrollmentLimits::kMaxConcurrentGroups));
  }
  s->metrics_ = std::make_unique<MetricsRegistry>();
  s->cluster_counters_ = std::make_unique<RedisClusterCounters>(s->metrics_.get());
  options.redis.cluster_counters = s->cluster_counters_.get();
  s->enrollment_metrics_ = std::make_unique<EnrollmentMetrics>(s->metrics_.get());
  s->host_ = std::make_unique<ServerHost>(options.server, s->metrics_.get());
  ServerHost* host = s->host_.get();
  EnrollmentServer* self = s.get();
  s->health_ =
      std::make_unique<RedisHealth>(options.redis, absl::Seconds(1), [host, self](bool up) {
        host->SetReady(up);
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          self->redis_up_ = up;
        }
        if (up) self->trimmer_.Wake();  // a pass waiting for Redis runs now
      });
  int bits = options.bucket_bits;
  const bool needs_module = options.limits.apply_engine == ApplyEngine::kModule;
  // Each time Redis (re)appears: load the functions (a restarted Redis may have lost them).
  const RegionRegistry* registry = s->regions_.get();
  s->settings_ = std::make_unique<RedisSettingsMonitor>(s->metrics_.get());
  RedisSettingsMonitor* settings = s->settings_.get();
  s->health_->set_metrics(s->metrics_.get());
  s->health_->set_on_up([bits, needs_module, fingerprint, registry, settings](RedisClient& c) {
    absl::Status loaded = c.LoadFunctionLibraries();
    if (!loaded.ok()) LogError("cannot load Redis functions", {{"error", loaded.message()}});
    absl::Status layout = loaded.ok() ? CheckMeta(c, bits, fingerprint) : loaded;
    if (layout.ok()) layout = CheckApplyModule(c, needs_module);
    // Before serving: every aggregate in layout 3, the only one the applies and readers know.
    if (layout.ok()) layout = MigrateLayouts(c, *registry);
    // Under an eviction policy nothing is written (it would drop participants silently).
    if (layout.ok()) layout = settings->Check(c);
    return layout;
  });
  s->executor_ =
      std::make_unique<RedisExecutor>(options.redis, options.redis_threads, options.queue_limit);
  s->executor_->set_depth_gauge(s->metrics_->AddGauge(
      "uhc_redis_queue_depth", "Redis tasks waiting for an executor thread."));
  s->validator_ = std::make_unique<EventValidator>(s->regions_.get(), s->keyer_.get(),
                                                   options.max_future_skew, options.history_days);
  EnrollmentLimits limits = options.limits;
  limits.history_days = options.history_days;
  absl::StatusOr<std::unique_ptr<TokenAuthorizer>> auth =
      LoadTokensIfConfigured(options.token_file);
  if (!auth.ok()) return auth.status();
  s->auth_ = *std::move(auth);
  s->enrollment_ = std::make_unique<EnrollmentServiceImpl>(
      limits, s->regions_.get(), s->validator_.get(), s->executor_.get(), s->health_.get(),
      s->enrollment_metrics_.get(), s->auth_.get());
  if (options.max_participants_per_bucket < 1 ||
      options.max_participants_per_bucket > kListpackEntriesAssumed) {
    return absl::InvalidArgumentError(absl::StrCat("max_participants_per_bucket ",
                                                   options.max_participants_per_bucket,
                                                   " is outside 1..", kListpackEntriesAssumed));
  }
  s->admin_ = std::make_unique<RegionAdminServiceImpl>(
      s->regions_.get(), s->enrollment_.get(),
      (int64_t{1} << options.bucket_bits) * options.max_participants_per_bucket);
  host->AddService(s->enrollment_.get(), "uhc.v1.EnrollmentService");
  host->AddService(s->admin_.get(), "uhc.v1.RegionAdminService");
  if (absl::Status started = host->Start(); !started.ok()) return started;
  s->health_->Start();
  if (options.history_days > 0) {
    s->trimmer_.Start([self] { return self->TrimStep(); });
  }
  LogInfo("enrollment-svc serving",
          {{"port", host->port()}, {"metrics_port", host->metrics_port()}});
  return s;
}

EnrollmentServer::~EnrollmentServer() { Shutdown(); }

absl::Duration EnrollmentServer::TrimStep() {
  {
    // A pass needs the functions, which are loaded each time Redis comes up: wait for the
    // health callback's Wake.
    std::lock_guard<std::mutex> lock(mu_);
    if (!redis_up_) return absl::InfiniteDuration();
  }
  // Until a pass succeeds (Redis may have gone again), retry every few seconds.
  return TrimOnce() ? options_.trim_interval : absl::Seconds(5);
}

bool EnrollmentServer::TrimOnce() {
  const int64_t keep_from = DayNumberOf(WibToday(absl::Now())) - options_.history_days;
  auto done = std::make_shared<std::promise<absl::StatusOr<int64_t>>>();
  std::future<absl::StatusOr<int64_t>> result = done->get_future();
  std::vector<std::string> keys;
  for (const Region* r : regions_->all()) {
    if (r->level == RegionLevel::kRegency) keys.push_back(DaysKey(r->code));
  }
  const std::string keep = std::to_string(keep_from);
  bool queued = executor_->Submit([keys, keep, done](RedisClient& redis) {
    RedisCommands commands;
    for (const std::string& k : keys) {
      commands.push_back({"FCALL", apply_abi::kTrimDaysFunction, "1", k, keep});
    }
    absl::StatusOr<std::vector<ReplyPtr>> replies = redis.Pipeline(commands);
    if (!replies.ok()) return done->set_value(replies.status());
    int64_t trimmed = 0;
    for (const ReplyPtr& r : *replies) {
      if (absl::Status s = ReplyStatus(r.get()); !s.ok()) return done->set_value(s);
      trimmed += r->integer;
    }
    done->set_value(trimmed);
  });
  if (!queued) return false;
  absl::StatusOr<int64_t> trimmed = result.get();
  if (!trimmed.ok()) {
    LogWarning("history trim failed; retrying", {{"error", trimmed.status().message()}});
    return false;
  }
  LogInfo("history trimmed",
          {{"kept_from", FormatDate(CivilDayOf(keep_from))}, {"region_days_deleted", *trimmed}});
  return true;
}

void EnrollmentServer::Shutdown() {
  trimmer_.Stop();
  if (host_ == nullptr) return;
  EnrollmentServiceImpl* enrollment = enrollment_.get();
  host_->Shutdown([enrollment] { enrollment->StartDraining(); });
  executor_->Shutdown();
  health_->Stop();
}

}  // namespace uhc
