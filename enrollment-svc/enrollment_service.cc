#include "enrollment-svc/enrollment_service.h"

#include <chrono>
#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/server/status.h"
#include "common/observability/log.h"
#include "common/domain/nik.h"
#include "common/domain/policy.h"
#include "common/domain/region_counts.h"
#include "common/redis/schema.h"
#include "enrollment-svc/event_applier.h"

namespace uhc {
namespace {

constexpr size_t kMaxBatchIdBytes = 128;

const grpc::Status kOverloaded(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               "server overloaded: Redis work queue full, retry with backoff");

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
  IngestStream(EnrollmentServiceImpl* service, const grpc::Status& authorized) : service_(service) {
    if (!authorized.ok()) {
      Finish(authorized);
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);  // client half-closed (or the call was cancelled)
      return;
    }
    bool queued = service_->Submit([this](RedisClient& connection) {
      grpc::Status status = service_->ProcessBatch(connection, request_, &response_);
      if (!status.ok()) {
        Finish(status);
        return;
      }
      StartWrite(&response_);
    });
    if (!queued) Finish(kOverloaded);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    if (service_->draining()) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "server shutting down: reconnect and resend unacked batches"));
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

// Admin calls take a kab/kota or a province (not the nation).
void CheckAdminRegion(const RegionRegistry& regions, const std::string& code,
                      std::vector<std::pair<std::string, std::string>>* violations) {
  const Region* region = regions.Find(code);
  if (region == nullptr || region->level == RegionLevel::kNation) {
    violations->emplace_back("region_code", region == nullptr
                                                ? regions.UnknownRegion(code)
                                                : "is the nation; name a province or kab/kota");
  }
}

bool DeadlinePassed(grpc::CallbackServerContext* context) {
  return context->deadline() < std::chrono::system_clock::now();
}

}  // namespace

EnrollmentMetrics::EnrollmentMetrics(MetricsRegistry* registry) {
  events[0] = nullptr;
  for (int o = 1; o <= 4; ++o) {
    std::string name = v1::EventOutcome_Name(static_cast<v1::EventOutcome>(o));
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
}

EnrollmentServiceImpl::EnrollmentServiceImpl(EnrollmentLimits limits,
                                             const RegionRegistry* regions,
                                             const EventValidator* validator,
                                             RedisExecutor* executor, RedisHealth* health,
                                             EnrollmentMetrics* metrics,
                                             const TokenAuthorizer* auth)
    : limits_(limits),
      regions_(regions),
      validator_(validator),
      executor_(executor),
      health_(health),
      metrics_(metrics),
      auth_(auth) {}

bool EnrollmentServiceImpl::Submit(RedisExecutor::Task task) {
  if (executor_->Submit(std::move(task))) return true;
  metrics_->overloaded->Increment();
  return false;
}

grpc::Status EnrollmentServiceImpl::ProcessBatch(RedisClient& connection,
                                                 const v1::IngestEventsRequest& request,
                                                 v1::IngestEventsResponse* response) {
  absl::Time start = absl::Now();
  response->Clear();
  if (request.batch_id().size() > kMaxBatchIdBytes) {
    return InvalidArgument({{"batch_id", absl::StrCat("is ", request.batch_id().size(),
                                                      " bytes; at most ", kMaxBatchIdBytes)}});
  }
  response->set_batch_id(request.batch_id());
  if (request.events().empty()) {
    return InvalidArgument({{"events", "a batch needs at least one event"}});
  }
  if (request.events_size() > limits_.max_events_per_batch) {
    return InvalidArgument({{"events", absl::StrCat(request.events_size(),
                                                    " events exceed the batch limit of ",
                                                    limits_.max_events_per_batch)}});
  }
  if (!health_->healthy()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "redis unreachable");
  std::vector<PreparedEvent> prepared;
  prepared.reserve(request.events_size());
  for (int i = 0; i < request.events_size(); ++i) {
    prepared.push_back(
        validator_->Prepare(request.events(i), i, /*in_batch=*/true, start));
  }
  RejectConflictingIds(request, &prepared);

  absl::Status applied = ApplyEvents(connection, prepared, limits_.events_per_redis_call,
                                     limits_.wait_replicas, response);
  if (!applied.ok()) {
    metrics_->redis_errors->Increment();
    if (absl::IsUnavailable(applied)) health_->ReportFailure();
    LogWarning("batch not applied", {{"error", applied.message()},
                                     {"events", request.events_size()}});
    response->Clear();
    return ToGrpcStatus(applied);
  }
  metrics_->events[v1::APPLIED]->Increment(response->applied());
  metrics_->events[v1::DUPLICATE]->Increment(response->duplicate());
  metrics_->events[v1::STALE]->Increment(response->stale());
  metrics_->events[v1::REJECTED]->Increment(response->rejected());
  metrics_->batch_seconds->Observe(absl::ToDoubleSeconds(absl::Now() - start));
  return grpc::Status::OK;
}

grpc::ServerBidiReactor<v1::IngestEventsRequest, v1::IngestEventsResponse>*
EnrollmentServiceImpl::IngestEvents(grpc::CallbackServerContext* context) {
  return new IngestStream(this, Authorize(*context, Role::kIngest));
}

grpc::ServerUnaryReactor* EnrollmentServiceImpl::IngestBatch(
    grpc::CallbackServerContext* context, const v1::IngestEventsRequest* request,
    v1::IngestEventsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status denied = Authorize(*context, Role::kIngest); !denied.ok()) {
    reactor->Finish(denied);
    return reactor;
  }
  bool queued = Submit([this, context, reactor, request, response](RedisClient& c) {
    if (DeadlinePassed(context)) {
      reactor->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed in queue"));
      return;
    }
    reactor->Finish(ProcessBatch(c, *request, response));
  });
  if (!queued) reactor->Finish(kOverloaded);
  return reactor;
}

grpc::ServerUnaryReactor* EnrollmentServiceImpl::Enroll(grpc::CallbackServerContext* context,
                                                        const v1::EnrollRequest* request,
                                                        v1::EnrollResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status denied = Authorize(*context, Role::kIngest); !denied.ok()) {
    reactor->Finish(denied);
    return reactor;
  }
  bool queued = Submit([this, context, reactor, request, response](RedisClient& c) {
    if (DeadlinePassed(context)) {
      reactor->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed in queue"));
      return;
    }
    absl::Time now = absl::Now();
    v1::ParticipantEvent event;
    event.set_event_id(request->request_id());
    event.set_nik(request->nik());
    event.set_region_code(request->region_code());
    if (request->has_occurred_at()) {
      *event.mutable_occurred_at() = request->occurred_at();
    } else {
      event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(now));
    }
    event.mutable_enrolled()->set_segment(request->segment());
    // Validate first (nothing is read for a bad request), then read the region's status.
    PreparedEvent check = validator_->Prepare(event, 0, /*in_batch=*/false, now);
    if (check.rejected) {
      std::string field = check.field == "event_id" ? "request_id"
                          : check.field == "enrolled.segment" ? "segment"
                                                              : check.field;
      reactor->Finish(InvalidArgument({{field, check.reason}}));
      return;
    }
    absl::StatusOr<ReplyPtr> prio = c.Command({"HGET", AggregateKey(request->region_code()), agg::kPrioritas});
    if (!prio.ok()) {
      health_->ReportFailure();
      reactor->Finish(ToGrpcStatus(prio.status()));
      return;
    }
    bool prioritas = (*prio)->type == REDIS_REPLY_STRING &&
                     absl::string_view((*prio)->str, (*prio)->len) == "1";
    event.mutable_enrolled()->set_active(prioritas);
    v1::IngestEventsRequest batch;
    *batch.add_events() = event;
    v1::IngestEventsResponse result;
    grpc::Status status = ProcessBatch(c, batch, &result);
    if (!status.ok()) {
      reactor->Finish(status);
      return;
    }
    response->set_outcome(result.results(0).outcome());
    v1::Participant* p = response->mutable_participant();
    p->set_region_code(request->region_code());
    p->set_segment(request->segment());
    p->set_active(prioritas);
    p->set_state(v1::PARTICIPANT_STATE_LIVE);
    p->set_last_event_kind(v1::EVENT_KIND_ENROLLED);
    *p->mutable_last_event_time() = event.occurred_at();
    absl::CivilDay day =
        absl::ToCivilDay(absl::FromUnixSeconds(event.occurred_at().seconds()), kWib);
    if (!prioritas) day = absl::CivilDay(absl::CivilMonth(day) + 1);
    response->set_cover_starts(absl::FormatCivilTime(day));
    reactor->Finish(grpc::Status::OK);
  });
  if (!queued) reactor->Finish(kOverloaded);
  return reactor;
}

grpc::ServerUnaryReactor* EnrollmentServiceImpl::GetParticipant(
    grpc::CallbackServerContext* context, const v1::GetParticipantRequest* request,
    v1::Participant* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status denied = Authorize(*context, Role::kRead); !denied.ok()) {
    reactor->Finish(denied);
    return reactor;
  }
  absl::StatusOr<Nik> nik = ParseNik(request->nik());
  if (!nik.ok()) {
    reactor->Finish(InvalidArgument({{"nik", std::string(nik.status().message())}}));
    return reactor;
  }
  std::vector<const Region*> candidates;
  if (!request->region_code().empty()) {
    std::string reason;
    const Region* region = validator_->Regency(request->region_code(), &reason);
    if (region == nullptr) {
      reactor->Finish(InvalidArgument({{"region_code", reason}}));
      return reactor;
    }
    candidates.push_back(region);
  } else {
    candidates = regions_->regencies();
  }
  bool queued = Submit([this, reactor, request, response, candidates](RedisClient& c) {
    // Read the record in each candidate region in one pipeline.
    ParticipantKey key = validator_->Key(request->nik());
    std::string field(key.field.begin(), key.field.end());
    std::vector<std::string> buckets;
    buckets.reserve(candidates.size());
    for (const Region* r : candidates) buckets.push_back(BucketKey(r->code, key.bucket));
    RedisCommands commands;
    for (const std::string& b : buckets) commands.push_back({"HGET", b, field});
    absl::StatusOr<std::vector<ReplyPtr>> replies = c.Pipeline(commands);
    if (!replies.ok()) {
      health_->ReportFailure();
      reactor->Finish(ToGrpcStatus(replies.status()));
      return;
    }
    // The live record wins; otherwise the newest terminated one. Moved-out records only point
    // elsewhere.
    int best = -1;
    ParticipantRecord found;
    for (size_t i = 0; i < replies->size(); ++i) {
      const redisReply* r = (*replies)[i].get();
      if (r->type != REDIS_REPLY_STRING) continue;
      std::optional<ParticipantRecord> record = DecodeRecord(absl::string_view(r->str, r->len));
      if (!record || record->kind == RecordKind::kMovedOut) continue;
      if (best < 0 || (record->live() && !found.live()) ||
          (record->live() == found.live() && record->occurred_at_ms > found.occurred_at_ms)) {
        best = static_cast<int>(i);
        found = *record;
      }
    }
    if (best < 0) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no participant with this NIK"));
      return;
    }
    const bool terminated = found.kind == RecordKind::kTerminated;
    response->set_region_code(candidates[best]->code);
    response->set_segment(static_cast<v1::Segment>(found.segment));
    response->set_active(found.active);
    response->set_state(terminated ? v1::PARTICIPANT_STATE_TERMINATED : v1::PARTICIPANT_STATE_LIVE);
    // Record kinds 1-4 are the API's kinds; a terminated record is EVENT_KIND_TERMINATED.
    response->set_last_event_kind(terminated ? v1::EVENT_KIND_TERMINATED
                                             : static_cast<v1::EventKind>(found.kind));
    response->mutable_last_event_time()->set_seconds(
        static_cast<int64_t>(found.occurred_at_ms / 1000));
    response->mutable_last_event_time()->set_nanos(
        static_cast<int32_t>(found.occurred_at_ms % 1000) * 1000000);
    reactor->Finish(grpc::Status::OK);
  });
  if (!queued) reactor->Finish(kOverloaded);
  return reactor;
}

grpc::ServerUnaryReactor* RegionAdminServiceImpl::Call(grpc::CallbackServerContext* context,
                                                       const std::string& region_code,
                                                       std::vector<std::string> command,
                                                       v1::RegionSettings* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const int wait_replicas = enrollment_->wait_replicas();
  bool queued = enrollment_->Submit([reactor, region_code, command, response, wait_replicas](
                                        RedisClient& c) {
    RedisArgv argv(command.begin(), command.end());
    absl::StatusOr<std::vector<ReplyPtr>> replies = c.Pipeline({argv}, wait_replicas);
    absl::Status status = replies.ok() ? ReplyStatus(replies->front().get()) : replies.status();
    const redisReply* reply = replies.ok() ? replies->front().get() : nullptr;
    if (status.ok() && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5)) {
      status = absl::InternalError("malformed settings reply");
    }
    if (!status.ok()) {
      reactor->Finish(ToGrpcStatus(status));
      return;
    }
    redisReply** e = reply->element;
    response->set_region_code(region_code);
    response->set_population(e[0]->integer);
    response->set_population_as_of(std::string(e[1]->str, e[1]->len));
    response->set_uhc_prioritas(e[2]->integer == 1);
    response->set_dues_paid_through(std::string(e[3]->str, e[3]->len));
    response->set_version(e[4]->integer);
    reactor->Finish(grpc::Status::OK);
  });
  if (!queued) reactor->Finish(kOverloaded);
  return reactor;
}

grpc::ServerUnaryReactor* RegionAdminServiceImpl::SetPopulation(
    grpc::CallbackServerContext* context, const v1::SetPopulationRequest* request,
    v1::RegionSettings* response) {
  if (grpc::Status denied = enrollment_->Authorize(*context, Role::kAdmin); !denied.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(denied);
    return reactor;
  }
  std::vector<std::pair<std::string, std::string>> violations;
  CheckAdminRegion(*regions_, request->region_code(), &violations);
  if (request->population() < 0 || request->population() > kMaxPopulation) {
    violations.emplace_back("population",
                            absl::StrCat(request->population(), " is outside 0..", kMaxPopulation,
                                         " (Indonesia has about 285 million people)"));
  }
  absl::CivilDay day;
  if (request->as_of().size() != 10 || !absl::ParseCivilTime(request->as_of(), &day)) {
    violations.emplace_back("as_of", "must be a date YYYY-MM-DD");
  }
  if (!violations.empty()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(InvalidArgument(violations));
    return reactor;
  }
  return Call(context, request->region_code(),
              {"FCALL", apply_abi::kSetPopulationFunction, "1", AggregateKey(request->region_code()),
               std::to_string(request->population()), request->as_of()},
              response);
}

grpc::ServerUnaryReactor* RegionAdminServiceImpl::SetRegionStatus(
    grpc::CallbackServerContext* context, const v1::SetRegionStatusRequest* request,
    v1::RegionSettings* response) {
  if (grpc::Status denied = enrollment_->Authorize(*context, Role::kAdmin); !denied.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(denied);
    return reactor;
  }
  std::vector<std::pair<std::string, std::string>> violations;
  CheckAdminRegion(*regions_, request->region_code(), &violations);
  if (!request->dues_paid_through().empty() && ParseYearMonth(request->dues_paid_through()) == 0) {
    violations.emplace_back("dues_paid_through", "must be a month YYYY-MM");
  }
  if (!violations.empty()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(InvalidArgument(violations));
    return reactor;
  }
  return Call(context, request->region_code(),
              {"FCALL", apply_abi::kSetStatusFunction, "1", AggregateKey(request->region_code()),
               request->uhc_prioritas() ? "1" : "0", request->dues_paid_through()},
              response);
}

}  // namespace uhc
