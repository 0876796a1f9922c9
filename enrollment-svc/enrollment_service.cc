#include "enrollment-svc/enrollment_service.h"

#include <chrono>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/domain/errors.h"
#include "common/domain/nik.h"
#include "common/domain/policy.h"
#include "common/domain/region_counts.h"
#include "common/observability/log.h"
#include "common/redis/history.h"
#include "common/redis/schema.h"
#include "common/server/status.h"
#include "enrollment-svc/event_applier.h"

namespace uhc {
namespace {

constexpr size_t kMaxBatchIdBytes = 128;

// Indonesia's western time (WIB, UTC+7) decides calendar days for cover dates.
const absl::TimeZone kWib = absl::FixedTimeZone(7 * 3600);

// Marks events whose event_id repeats an earlier event of the batch with different content.
void RejectConflictingIds(const v1::IngestEventsRequest& request,
                          std::vector<PreparedEvent>* prepared) {
  absl::flat_hash_map<absl::string_view, int> first;
  first.reserve(request.events_size());
  for (int i = 0; i < request.events_size(); ++i) {
    if ((*prepared)[i].rejected) continue;
    auto [it, inserted] = first.emplace(request.events(i).event_id(), i);
    if (inserted) continue;
    const v1::ParticipantEvent& a = request.events(it->second);
    const v1::ParticipantEvent& b = request.events(i);
    if (a.SerializeAsString() != b.SerializeAsString()) {
      PreparedEvent& p = (*prepared)[i];
      p.rejected = true;
      p.field = absl::StrCat("events[", i, "].event_id");
      p.reason = absl::StrCat("repeats events[", it->second, "].event_id with different content");
    }
  }
}

class IngestStream final
    : public grpc::ServerBidiReactor<v1::IngestEventsRequest, v1::IngestEventsResponse> {
 public:
  IngestStream(EnrollmentServiceImpl* service, const absl::Status& authorized) : service_(service) {
    if (!authorized.ok()) {
      Finish(ToGrpcStatus(authorized));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);  // client half-closed (or the call was cancelled)
      return;
    }
    bool queued = service_->calls().Submit([this](RedisClient& connection) {
      absl::Status status = service_->ProcessBatch(connection, request_, &response_);
      if (!status.ok()) {
        Finish(ToGrpcStatus(status));
        return;
      }
      StartWrite(&response_);
    });
    if (!queued) Finish(ToGrpcStatus(Overloaded()));
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(ToGrpcStatus(absl::CancelledError("write failed")));
      return;
    }
    if (service_->draining()) {
      Finish(ToGrpcStatus(ShuttingDown()));
      return;
    }
    request_.Clear();
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  EnrollmentServiceImpl* service_;
  v1::IngestEventsRequest request_;
  v1::IngestEventsResponse response_;
};

}  // namespace

EnrollmentMetrics::EnrollmentMetrics(MetricsRegistry* registry) {
  events[0] = nullptr;
  for (int o = 1; o <= 4; ++o) {
    // "applied", "duplicate", ...: the value's name without the enum prefix.
    std::string name = v1::EventOutcome_Name(static_cast<v1::EventOutcome>(o))
                           .substr(std::string_view("EVENT_OUTCOME_").size());
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    events[o] = registry->AddCounter("uhc_events_total", "Participant events by outcome.",
                                     {{"outcome", name}});
  }
  batch_seconds = registry->AddHistogram(
      "uhc_batch_seconds", "Time to validate and apply one batch, Redis included.",
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  redis_errors = registry->AddCounter("uhc_redis_errors_total", "Failed Redis round trips.");
  overloaded = registry->AddCounter("uhc_overloaded_total",
                                    "Calls refused because the Redis work queue was full.");
  regroups = registry->AddCounter(
      "uhc_batch_regroups_total",
      "Groups of batches that failed in Redis and were applied again batch by batch, so that only "
      "a batch at fault fails.");
  apply_module = registry->AddGauge(
      "uhc_apply_module",
      "1 while events are applied by uhc_module.so (uhc.apply_v4), 0 while by the Lua function, "
      "which costs Redis about twice the CPU per event (--apply_engine).");
}

EnrollmentServiceImpl::EnrollmentServiceImpl(EnrollmentLimits limits, const RegionRegistry* regions,
                                             const EventValidator* validator,
                                             RedisExecutor* executor, RedisHealth* health,
                                             EnrollmentMetrics* metrics,
                                             const TokenAuthorizer* auth)
    : limits_(limits),
      regions_(regions),
      validator_(validator),
      health_(health),
      metrics_(metrics),
      calls_(auth, executor, metrics->overloaded),
      engine_(limits.apply_engine, limits.module_retry),
      group_(
          static_cast<size_t>(limits.events_per_redis_call),
          [limits, this](RedisClient& redis, const std::vector<PreparedEvent>& events,
                         v1::IngestEventsResponse* response, std::vector<uint8_t>* bytes) {
            uint64_t fold_before_ms = 0;
            if (limits.history_days > 0) {
              // A day behind the window the validator keeps: an event it accepted just before
              // midnight and applied after (a batch waits in the group) is never older than the
              // fold point.
              const int64_t first_day =
                  DayNumberOf(WibToday(absl::Now())) - limits.history_days - 1;
              fold_before_ms = static_cast<uint64_t>(first_day * 86'400'000 - 7 * 3'600'000);
            }
            absl::Status applied =
                ApplyEvents(redis, events, limits.events_per_redis_call, limits.wait_replicas,
                            &engine_, response, bytes, fold_before_ms);
            metrics_->apply_module->Set(engine_.module_applies() ? 1 : 0);
            return applied;
          },
          metrics->regroups, limits.concurrent_groups) {
  metrics_->apply_module->Set(engine_.module_applies() ? 1 : 0);
}

absl::Status EnrollmentServiceImpl::ProcessBatch(RedisClient& connection,
                                                 const v1::IngestEventsRequest& request,
                                                 v1::IngestEventsResponse* response) {
  absl::Time start = absl::Now();
  response->Clear();
  if (request.batch_id().size() > kMaxBatchIdBytes) {
    return InvalidField("batch_id", absl::StrCat("is ", request.batch_id().size(),
                                                 " bytes; at most ", kMaxBatchIdBytes));
  }
  response->set_batch_id(request.batch_id());
  if (request.events().empty()) {
    return InvalidField("events", "a batch needs at least one event");
  }
  if (request.events_size() > limits_.max_events_per_batch) {
    return InvalidField("events",
                        absl::StrCat(request.events_size(), " events exceed the batch limit of ",
                                     limits_.max_events_per_batch));
  }
  if (!health_->healthy()) return health_->NotServing();
  std::vector<PreparedEvent> prepared;
  prepared.reserve(request.events_size());
  for (int i = 0; i < request.events_size(); ++i) {
    prepared.push_back(validator_->Prepare(request.events(i), i, /*in_batch=*/true, start));
  }
  RejectConflictingIds(request, &prepared);
  return ApplyPrepared(connection, prepared, start, response, nullptr);
}

absl::Status EnrollmentServiceImpl::ApplyPrepared(RedisClient& connection,
                                                  const std::vector<PreparedEvent>& prepared,
                                                  absl::Time start,
                                                  v1::IngestEventsResponse* response,
                                                  std::vector<uint8_t>* result_bytes) {
  absl::Status applied = group_.Apply(connection, prepared, response, result_bytes);
  if (!applied.ok()) {
    metrics_->redis_errors->Increment();
    if (absl::IsUnavailable(applied)) health_->ReportFailure();
    LogWarning("batch not applied",
               {{"error", applied.message()}, {"events", static_cast<int64_t>(prepared.size())}});
    response->Clear();
    return applied;
  }
  metrics_->events[v1::EVENT_OUTCOME_APPLIED]->Increment(response->applied());
  metrics_->events[v1::EVENT_OUTCOME_DUPLICATE]->Increment(response->duplicate());
  metrics_->events[v1::EVENT_OUTCOME_STALE]->Increment(response->stale());
  metrics_->events[v1::EVENT_OUTCOME_REJECTED]->Increment(response->rejected());
  metrics_->batch_seconds->Observe(absl::ToDoubleSeconds(absl::Now() - start));
  return absl::OkStatus();
}

grpc::ServerBidiReactor<v1::IngestEventsRequest, v1::IngestEventsResponse>*
EnrollmentServiceImpl::IngestEvents(grpc::CallbackServerContext* context) {
  return new IngestStream(this, calls_.Authorize(*context, Role::kIngest));
}

grpc::ServerUnaryReactor* EnrollmentServiceImpl::IngestBatch(grpc::CallbackServerContext* context,
                                                             const v1::IngestEventsRequest* request,
                                                             v1::IngestEventsResponse* response) {
  return calls_.OnExecutor(context, Role::kIngest, [this, request, response](RedisClient& redis) {
    return ProcessBatch(redis, *request, response);
  });
}

grpc::ServerUnaryReactor* EnrollmentServiceImpl::Enroll(grpc::CallbackServerContext* context,
                                                        const v1::EnrollRequest* request,
                                                        v1::EnrollResponse* response) {
  return calls_.OnExecutor(context, Role::kIngest, [this, request, response](RedisClient& redis) {
    return EnrollOn(redis, *request, response);
  });
}

absl::Status EnrollmentServiceImpl::EnrollOn(RedisClient& redis, const v1::EnrollRequest& request,
                                             v1::EnrollResponse* response) {
  absl::Time now = absl::Now();
  v1::ParticipantEvent event;
  event.set_event_id(request.request_id());
  event.set_nik(request.nik());
  event.set_region_code(request.region_code());
  if (request.has_event_time()) {
    *event.mutable_event_time() = request.event_time();
  } else {
    event.mutable_event_time()->set_seconds(absl::ToUnixSeconds(now));
  }
  event.mutable_enrolled()->set_segment(request.segment());
  // Validate first: nothing is read or written for a bad request.
  PreparedEvent prepared = validator_->Prepare(event, 0, /*in_batch=*/false, now);
  if (prepared.rejected) {
    std::string field = prepared.field == "event_id"           ? "request_id"
                        : prepared.field == "enrolled.segment" ? "segment"
                                                               : prepared.field;
    // A code that names no region is NOT_FOUND here as in every RPC (docs/API.md "Errors").
    if (field == "region_code" && !request.region_code().empty() &&
        regions_->Find(request.region_code()) == nullptr) {
      return regions_->RegionNotFound(request.region_code());
    }
    return InvalidField(field, prepared.reason);
  }
  if (!health_->healthy()) return health_->NotServing();
  if (absl::Status claimed = ClaimRequestId(redis, request, &prepared); !claimed.ok()) {
    return claimed;
  }
  // Cover is decided inside the atomic apply, from the region's UHC Prioritas status as the
  // call finds it (kPrioDecides): no status change can fall between a read and the write.
  prepared.arg = static_cast<uint8_t>(prepared.arg | apply_abi::kPrioDecides);
  v1::IngestEventsResponse result;
  std::vector<uint8_t> bytes;
  if (absl::Status status = ApplyPrepared(redis, {prepared}, now, &result, &bytes); !status.ok()) {
    return status;
  }
  const v1::EventOutcome outcome = result.results(0).outcome();
  response->set_outcome(outcome);
  v1::Participant* p = response->mutable_participant();
  if (outcome != v1::EVENT_OUTCOME_APPLIED && outcome != v1::EVENT_OUTCOME_DUPLICATE) {
    // A later event of this participant is stored: report the participant as it stands.
    return FindParticipant(redis, request.nik(), {prepared.region}, p);
  }
  const bool active = apply_abi::ResultActive(bytes[0]);
  p->set_region_code(request.region_code());
  p->set_segment(request.segment());
  p->set_active(active);
  p->set_state(v1::PARTICIPANT_STATE_LIVE);
  p->set_last_event_kind(v1::EVENT_KIND_ENROLLED);
  p->mutable_last_event_time()->set_seconds(static_cast<int64_t>(prepared.occurred_at_ms / 1000));
  p->mutable_last_event_time()->set_nanos(static_cast<int32_t>(prepared.occurred_at_ms % 1000) *
                                          1000000);
  absl::CivilDay day =
      absl::ToCivilDay(absl::FromUnixMillis(static_cast<int64_t>(prepared.occurred_at_ms)), kWib);
  if (!active) day = absl::CivilDay(absl::CivilMonth(day) + 1);
  response->set_cover_starts(absl::FormatCivilTime(day));
  return absl::OkStatus();
}

absl::Status EnrollmentServiceImpl::ClaimRequestId(RedisClient& redis,
                                                   const v1::EnrollRequest& request,
                                                   PreparedEvent* prepared) {
  // What the key stands for: the participant's keyed hash (never the NIK), region, segment and
  // event_time (and whether the caller gave it: one left to the server's clock is the first
  // call's on every retry).
  const std::string content =
      absl::StrCat(absl::BytesToHexString(
                       absl::string_view(prepared->key.field.data(), prepared->key.field.size())),
                   "|", request.region_code(), "|", static_cast<int>(request.segment()), "|",
                   request.has_event_time() ? "given" : "server", "|");
  const std::string mine = absl::StrCat(content, prepared->occurred_at_ms);
  // Confirmed by replicas as the apply is (--redis_wait_replicas), so a failover cannot keep the
  // enrolment and lose what its request_id stands for.
  absl::StatusOr<std::vector<ReplyPtr>> replies =
      redis.Pipeline({{"SET", EnrollRequestKey(request.request_id()), mine, "NX", "GET", "PX",
                       std::to_string(absl::ToInt64Milliseconds(limits_.enroll_idempotency))}},
                     limits_.wait_replicas);
  if (!replies.ok()) {
    if (absl::IsUnavailable(replies.status())) health_->ReportFailure();
    return replies.status();
  }
  ReplyPtr* reply = &(*replies)[0];
  if (absl::Status s = ReplyStatus(reply->get()); !s.ok()) return s;
  if ((*reply)->type == REDIS_REPLY_NIL) return absl::OkStatus();  // first use of the key
  if ((*reply)->type != REDIS_REPLY_STRING) {
    return absl::InternalError("SET NX GET of an Enroll request_id: unexpected reply");
  }
  const absl::string_view stored((*reply)->str, (*reply)->len);
  uint64_t first_ms = 0;
  absl::string_view rest = stored;
  if (!absl::ConsumePrefix(&rest, content) || !absl::SimpleAtoi(rest, &first_ms) ||
      (request.has_event_time() && first_ms != prepared->occurred_at_ms)) {
    return AlreadyExists(
        reason::kRequestIdReused, {"uhc.v1.EnrollRequest", Clip(request.request_id())},
        "request_id: was used by an earlier Enroll with other content (NIK, region_code, segment "
        "or event_time); a retry must repeat the request exactly, and a new enrolment needs a "
        "new request_id");
  }
  prepared->occurred_at_ms = first_ms;
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EnrollmentServiceImpl::GetParticipant(
    grpc::CallbackServerContext* context, const v1::GetParticipantRequest* request,
    v1::Participant* response) {
  absl::StatusOr<Nik> nik = ParseNik(request->nik());
  if (!nik.ok()) {
    return calls_.Answer(context, Role::kRead,
                         [&] { return InvalidField("nik", std::string(nik.status().message())); });
  }
  std::vector<const Region*> candidates;
  if (!request->region_code().empty()) {
    std::string reason;
    const Region* region = validator_->Regency(request->region_code(), &reason);
    if (region == nullptr) {
      absl::Status bad = regions_->Find(request->region_code()) == nullptr
                             ? regions_->RegionNotFound(request->region_code())
                             : InvalidField("region_code", reason);
      return calls_.Answer(context, Role::kRead, [&] { return bad; });
    }
    candidates.push_back(region);
  } else {
    candidates = regions_->regencies();
  }
  return calls_.OnExecutor(context, Role::kRead,
                           [this, request, response, candidates](RedisClient& redis) {
                             return FindParticipant(redis, request->nik(), candidates, response);
                           });
}

absl::Status EnrollmentServiceImpl::FindParticipant(RedisClient& redis, const std::string& nik,
                                                    const std::vector<const Region*>& candidates,
                                                    v1::Participant* response) {
  ParticipantKey key = validator_->Key(nik);
  std::string field(key.field.begin(), key.field.end());
  std::vector<std::string> buckets;
  buckets.reserve(candidates.size());
  for (const Region* r : candidates) buckets.push_back(BucketKey(r->code, key.bucket));
  RedisCommands commands;
  for (const std::string& b : buckets) commands.push_back({"HGET", b, field});
  absl::StatusOr<std::vector<ReplyPtr>> replies = redis.Pipeline(commands);
  if (!replies.ok()) {
    health_->ReportFailure();
    return replies.status();
  }
  // The live record wins; otherwise the newest terminated one. Moved-out records only point
  // elsewhere.
  int best = -1;
  ParticipantRecord found;
  for (size_t i = 0; i < replies->size(); ++i) {
    const redisReply* r = (*replies)[i].get();
    if (r->type != REDIS_REPLY_STRING) continue;
    std::optional<ParticipantRecord> record =
        DecodeStoredParticipant(absl::string_view(r->str, r->len));
    if (!record || record->kind == RecordKind::kMovedOut || record->kind == RecordKind::kPending) {
      continue;
    }
    if (best < 0 || (record->live() && !found.live()) ||
        (record->live() == found.live() && record->occurred_at_ms > found.occurred_at_ms)) {
      best = static_cast<int>(i);
      found = *record;
    }
  }
  if (best < 0) {
    // The resource name would be the NIK: left empty, as personal data never leaves in an error.
    return NotFound(reason::kParticipantNotFound, {"uhc.v1.Participant", ""},
                    "no participant with this NIK");
  }
  const bool terminated = found.kind == RecordKind::kTerminated;
  response->set_region_code(candidates[best]->code);
  response->set_segment(static_cast<v1::Segment>(found.segment));
  response->set_active(found.active && !terminated);
  response->set_state(terminated ? v1::PARTICIPANT_STATE_TERMINATED : v1::PARTICIPANT_STATE_LIVE);
  // Record kinds 1-4 are the API's kinds; a terminated record is EVENT_KIND_TERMINATED.
  response->set_last_event_kind(terminated ? v1::EVENT_KIND_TERMINATED
                                           : static_cast<v1::EventKind>(found.kind));
  response->mutable_last_event_time()->set_seconds(
      static_cast<int64_t>(found.occurred_at_ms / 1000));
  response->mutable_last_event_time()->set_nanos(static_cast<int32_t>(found.occurred_at_ms % 1000) *
                                                 1000000);
  return absl::OkStatus();
}

}  // namespace uhc
