#include "classifier-svc/refresher.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "classifier-svc/past.h"
#include "common/domain/policy.h"
#include "common/observability/log.h"
#include "common/redis/schema.h"
#include "common/redis/settings.h"
#include "google/protobuf/util/time_util.h"

namespace uhc {

// The Lua library of tier_functions.lua, embedded at build time.
extern const char kTierFunctionsLua[];

namespace {

constexpr int kHistoryLength = 1000;
constexpr int kLogPage = 1000;

}  // namespace

Refresher::Refresher(RedisOptions redis, const RegionRegistry* regions, const PolicySet* policies,
                     absl::Duration interval, TierChangeHub* hub, MetricsRegistry* metrics)
    : redis_(std::move(redis)),
      regions_(regions),
      policies_(policies),
      interval_(interval),
      hub_(hub),
      refreshes_(metrics->AddCounter("uhc_snapshot_refreshes_total", "Snapshots built.")),
      refresh_errors_(metrics->AddCounter("uhc_redis_errors_total", "Failed Redis round trips.")),
      changes_recorded_(metrics->AddCounter("uhc_tier_changes_recorded_total",
                                            "Tier changes this replica recorded in Redis.")),
      snapshot_age_(metrics->AddGauge("uhc_snapshot_age_seconds",
                                      "Age of the snapshot queries are answered from.")) {
  redis_.function_libraries = {kTierFunctionsLua};
  std::map<std::string, RegionAggregate, std::less<>> none;
  snapshot_ = Snapshot::Build(*regions_, *policies_, none, absl::InfinitePast(), nullptr);
}

Refresher::~Refresher() { Stop(); }

void Refresher::Start() {
  loop_.Start([this] {
    RefreshStep();
    return interval_;
  });
}

void Refresher::Stop() { loop_.Stop(); }

void Refresher::RefreshStep() {
  // A fresh client after every failure, so the function library is loaded again on whatever
  // primaries serve then (a restarted Redis, a replica promoted in a cluster).
  absl::Status status;
  if (client_ == nullptr) {
    client_ = MakeRedisClient(redis_);
    status = client_->LoadFunctionLibraries();
    // Data a later release wrote is not read (a rollback onto it): checked on every new
    // client, so also when Redis was down at start.
    if (status.ok()) status = StoredDataLayout(*client_).status();
    if (absl::IsFailedPrecondition(status)) {
      LogError("refusing to read this redis", {{"error", status.message()}});
    }
  }
  if (status.ok()) status = RefreshOnce(*client_);
  if (!status.ok()) {
    if (!stale_.exchange(true)) {
      LogWarning("snapshot refresh failed; serving the last good snapshot marked stale",
                 {{"error", status.message()}});
    }
    refresh_errors_->Increment();
    if (std::vector<std::string> known = client_->KnownNodes(); !known.empty()) {
      redis_.cluster_seeds = std::move(known);
    }
    client_.reset();
  }
  const absl::Duration age = absl::Now() - snapshot()->read_at();
  snapshot_age_->Set(absl::ToDoubleSeconds(age));
  if (stale_.load()) {
    if (age > max_stale_ && !unready_) {
      unready_ = true;
      if (on_ready_) on_ready_(false);
      LogError("snapshot older than --max_stale_seconds: not ready until a refresh succeeds",
               {{"age_seconds", absl::ToDoubleSeconds(age)}});
    }
  } else {
    unready_ = false;
  }
}

absl::Status Refresher::LoadRecordedTiers(RedisClient& redis) {
  // Rebuilt from Redis alone: a change believed recorded by a pipeline that failed is forgotten,
  // so it is recorded again (compare-and-set) rather than never.
  auto recorded = ReadRecordedTiers(redis, *regions_);
  if (!recorded.ok()) return recorded.status();
  recorded_ = *std::move(recorded);
  recorded_loaded_ = true;
  return absl::OkStatus();
}

absl::Status Refresher::RefreshOnce(RedisClient& redis) {
  if (!recorded_loaded_) {
    if (absl::Status s = LoadRecordedTiers(redis); !s.ok()) return s;
  }
  if (!log_position_) {
    // Live watchers get what is logged from now on; older entries are for resumed streams.
    absl::StatusOr<LogPosition> last = LastLogPosition(redis);
    if (!last.ok()) return last.status();
    log_position_ = *last;
    hub_->SetPosition(*last);
  }
  std::vector<const Region*> read;
  for (const Region* r : regions_->all()) {
    if (r->level != RegionLevel::kNation) read.push_back(r);
  }
  std::vector<std::string> keys;
  keys.reserve(read.size());
  for (const Region* r : read) keys.push_back(AggregateKey(r->code));
  RedisCommands commands;
  commands.reserve(keys.size());
  for (const std::string& k : keys) commands.push_back({"HGETALL", k});
  absl::Time read_at = absl::Now();
  absl::StatusOr<std::vector<ReplyPtr>> replies = redis.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  std::map<std::string, RegionAggregate, std::less<>> aggregates;
  for (size_t i = 0; i < read.size(); ++i) {
    if (absl::Status s = ReplyStatus((*replies)[i].get()); !s.ok()) return s;
    aggregates[read[i]->code] = ParseAggregate((*replies)[i].get());
  }
  std::shared_ptr<const Snapshot> previous = snapshot();
  std::shared_ptr<const Snapshot> next =
      Snapshot::Build(*regions_, *policies_, aggregates, read_at, previous.get());

  // Tier changes against what this replica believes is recorded.
  std::vector<v1::TierChange> changes;
  for (const auto& entry : next->entries()) {
    auto& recorded = recorded_[entry->region->code];
    for (const auto& [policy, tier] : entry->tiers) {
      auto it = recorded.find(policy);
      std::string before = it == recorded.end() ? "" : it->second;
      if (before == tier.tier() || (before.empty() && tier.tier() == kNoTier)) continue;
      v1::TierChange change;
      change.set_region_code(entry->region->code);
      change.set_policy_id(policy);
      change.set_from_tier(before.empty() ? kNoTier : before);
      change.set_to_tier(tier.tier());
      *change.mutable_change_time() =
          google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(read_at));
      change.set_data_version(entry->data_version);
      changes.push_back(std::move(change));
    }
  }
  if (stale_.load()) {
    // Ready before the snapshot is published: whoever sees a fresh answer sees a ready server.
    if (on_ready_) on_ready_(true);
    stale_.store(false);
    LogInfo("snapshot refreshed from redis", {{"generation", generation_.load() + 1}});
  }
  std::atomic_store(&snapshot_, next);
  generation_.fetch_add(1);
  refreshes_->Increment();
  if (!changes.empty()) {
    SetEffectiveDates(redis, read_at, &changes);
    RecordChanges(redis, changes);
  }
  return PublishLog(redis);
}

absl::Status Refresher::PublishLog(RedisClient& redis) {
  for (;;) {
    absl::StatusOr<std::vector<LoggedChange>> page = ReadLogAfter(redis, *log_position_, kLogPage);
    if (!page.ok()) return page.status();
    if (page->empty()) return absl::OkStatus();
    hub_->Publish(*page);
    log_position_ = page->back().position;
    if (page->size() < static_cast<size_t>(kLogPage)) return absl::OkStatus();
  }
}

void Refresher::SetEffectiveDates(RedisClient& redis, absl::Time seen_at,
                                  std::vector<v1::TierChange>* changes) {
  std::vector<const Region*> changed;
  for (const v1::TierChange& change : *changes) {
    if (const Region* region = regions_->Find(change.region_code())) changed.push_back(region);
  }
  absl::StatusOr<Histories> histories = ReadSourceHistories(redis, *regions_, changed);
  if (!histories.ok()) {
    // Recorded without: the change itself must not wait for the history.
    LogWarning("tier changes recorded without their effective dates",
               {{"error", histories.status().message()}});
    return;
  }
  const absl::CivilDay today = WibToday(seen_at);
  for (v1::TierChange& change : *changes) {
    const Region* region = regions_->Find(change.region_code());
    const v1::PolicyConfig* policy = policies_->Find(change.policy_id());
    if (region == nullptr || policy == nullptr) continue;
    std::optional<absl::CivilDay> since =
        HeldSince(*regions_, *histories, *region, *policy, change.to_tier(), today);
    if (!since) continue;
    change.set_effective_date(FormatDate(*since));
    change.set_backdated(*since < today);
  }
}

void Refresher::RecordChanges(RedisClient& redis, const std::vector<v1::TierChange>& changes) {
  const absl::Time keep_since = absl::Now() - resume_window_;
  std::vector<std::vector<std::string>> calls;
  calls.reserve(changes.size());
  for (const v1::TierChange& c : changes) {
    auto& recorded = recorded_[c.region_code()];
    auto it = recorded.find(c.policy_id());
    calls.push_back(
        RecordTierCall(c, it == recorded.end() ? "" : it->second, kHistoryLength, keep_since));
    recorded[c.policy_id()] = c.to_tier();
  }
  RedisCommands commands;
  commands.reserve(calls.size());
  for (const auto& call : calls) commands.emplace_back(call.begin(), call.end());
  absl::StatusOr<std::vector<ReplyPtr>> replies = redis.Pipeline(commands);
  bool failed = !replies.ok();
  for (size_t i = 0; !failed && i < replies->size(); ++i) {
    const redisReply* r = (*replies)[i].get();
    if (absl::Status s = ReplyStatus(r); !s.ok()) {
      LogWarning("tier change not recorded", {{"error", s.message()}});
      failed = true;
    } else if (r->type == REDIS_REPLY_STRING) {
      changes_recorded_->Increment();
    }
  }
  if (failed) {
    if (!replies.ok())
      LogWarning("tier changes not recorded", {{"error", replies.status().message()}});
    recorded_loaded_ = false;  // re-read the recorded state next time
  }
}

}  // namespace uhc
