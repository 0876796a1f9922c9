#pragma once

#include <atomic>

#include "common/domain/event_rules.h"
#include "common/domain/region_counts.h"
#include "common/domain/regions.h"
#include "common/observability/metrics.h"
#include "common/redis/executor.h"
#include "common/redis/health.h"
#include "common/server/auth.h"
#include "common/server/unary.h"
#include "enrollment-svc/batch_group.h"
#include "enrollment-svc/event_applier.h"
#include "uhc/v1/enrollment.grpc.pb.h"

namespace uhc {

struct EnrollmentLimits {
  int max_events_per_batch = 10000;
  // Events per Redis function call; batches waiting at the same time are applied together up to
  // this many (BatchGroup).
  int events_per_redis_call = 8000;
  // Groups applied at once (BatchGroup): a group may go while another waits for its follow-ups
  // (a relocation's ENTER, one more round trip).
  int concurrent_groups = 4;
  static constexpr int kMaxConcurrentGroups = 16;
  // A call names its keys by 16-bit index: up to two bucket keys per event (a relocation's LEAVE
  // and ENTER) and two keys per region must stay below 65,536.
  static constexpr int kMaxEventsPerRedisCall = 30000;
  // Writes are acknowledged only once this many replicas confirmed them (WAIT); 0: no wait.
  int wait_replicas = 0;
  // The Redis function, or the module when Redis has it loaded (event_applier.h).
  ApplyEngine apply_engine = ApplyEngine::kAuto;
  // With kAuto, how long the function applies after Redis lacked the module, before it is tried
  // again.
  absl::Duration module_retry = absl::Minutes(1);
  // Days of history kept (EnrollmentServerOptions::history_days; 0: all): timelines written fold
  // their entries before the window into their base state.
  int history_days = 0;
  // How long an Enroll request_id is kept with what it stands for (--enroll_idempotency_hours).
  absl::Duration enroll_idempotency = absl::Hours(168);
};

// Counters and histograms of enrollment-svc (created once, in the constructor).
struct EnrollmentMetrics {
  explicit EnrollmentMetrics(MetricsRegistry* registry);
  Counter* events[5];  // by v1::EventOutcome (index 0 unused)
  Histogram* batch_seconds;
  Counter* redis_errors;
  Counter* overloaded;
  Counter* regroups;    // failed groups applied again batch by batch (BatchGroup)
  Gauge* apply_module;  // 1 while events go to uhc.apply_v3 (the module), 0 to the Lua function
};

// EnrollmentService and RegionAdminService over one executor. Every Redis call runs on the
// executor; callback threads only parse, queue and finish. Not owned: everything passed in.
class EnrollmentServiceImpl final : public v1::EnrollmentService::CallbackService {
 public:
  EnrollmentServiceImpl(EnrollmentLimits limits, const RegionRegistry* regions,
                        const EventValidator* validator, RedisExecutor* executor,
                        RedisHealth* health, EnrollmentMetrics* metrics,
                        const TokenAuthorizer* auth);

  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* context,
                                   const v1::EnrollRequest* request,
                                   v1::EnrollResponse* response) override;
  grpc::ServerBidiReactor<v1::IngestEventsRequest, v1::IngestEventsResponse>* IngestEvents(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* IngestBatch(grpc::CallbackServerContext* context,
                                        const v1::IngestEventsRequest* request,
                                        v1::IngestEventsResponse* response) override;
  grpc::ServerUnaryReactor* GetParticipant(grpc::CallbackServerContext* context,
                                           const v1::GetParticipantRequest* request,
                                           v1::Participant* response) override;

  // After this, streams finish (UNAVAILABLE) once their in-flight batch is acked.
  void StartDraining() { draining_.store(true); }
  bool draining() const { return draining_.load(); }
  int wait_replicas() const { return limits_.wait_replicas; }

  // Validates and applies one batch on `connection`; the shared core of both ingest RPCs.
  absl::Status ProcessBatch(RedisClient& connection, const v1::IngestEventsRequest& request,
                            v1::IngestEventsResponse* response);
  const UnaryCalls& calls() const { return calls_; }

 private:
  // Enroll's work on the executor.
  absl::Status EnrollOn(RedisClient& redis, const v1::EnrollRequest& request,
                        v1::EnrollResponse* response);
  // Records what an Enroll request_id stands for, at its first use (SET NX, expiring after
  // enroll_idempotency); a retry with the same content gets the first call's event_time in
  // `prepared`; other content is ALREADY_EXISTS.
  absl::Status ClaimRequestId(RedisClient& redis, const v1::EnrollRequest& request,
                              PreparedEvent* prepared);
  // Applies validated events (group commit) and counts them; `result_bytes` as ApplyEvents's.
  absl::Status ApplyPrepared(RedisClient& connection, const std::vector<PreparedEvent>& prepared,
                             absl::Time start, v1::IngestEventsResponse* response,
                             std::vector<uint8_t>* result_bytes);
  // GetParticipant's work: the record of the NIK in each candidate region, in one pipeline.
  absl::Status FindParticipant(RedisClient& redis, const std::string& nik,
                               const std::vector<const Region*>& candidates,
                               v1::Participant* response);

  EnrollmentLimits limits_;
  const RegionRegistry* regions_;
  const EventValidator* validator_;
  RedisHealth* health_;
  EnrollmentMetrics* metrics_;
  UnaryCalls calls_;
  EngineChoice engine_;
  BatchGroup group_;
  std::atomic<bool> draining_{false};
};

// RegionAdminService: population and status, one Redis function call each
// (region_admin_service.cc).
class RegionAdminServiceImpl final : public v1::RegionAdminService::CallbackService {
 public:
  // `kabkota_capacity`: the largest population of a kab/kota the bucket layout holds compactly.
  RegionAdminServiceImpl(const RegionRegistry* regions, EnrollmentServiceImpl* enrollment,
                         int64_t kabkota_capacity = kMaxPopulation)
      : regions_(regions), enrollment_(enrollment), kabkota_capacity_(kabkota_capacity) {}

  grpc::ServerUnaryReactor* SetPopulation(grpc::CallbackServerContext* context,
                                          const v1::SetPopulationRequest* request,
                                          v1::RegionSettings* response) override;
  grpc::ServerUnaryReactor* SetRegionStatus(grpc::CallbackServerContext* context,
                                            const v1::SetRegionStatusRequest* request,
                                            v1::RegionSettings* response) override;
  grpc::ServerUnaryReactor* CreateCutoff(grpc::CallbackServerContext* context,
                                         const v1::CreateCutoffRequest* request,
                                         v1::Cutoff* response) override;
  grpc::ServerUnaryReactor* GetCutoff(grpc::CallbackServerContext* context,
                                      const v1::GetCutoffRequest* request,
                                      v1::Cutoff* response) override;
  grpc::ServerUnaryReactor* ListCutoffs(grpc::CallbackServerContext* context,
                                        const v1::ListCutoffsRequest* request,
                                        v1::ListCutoffsResponse* response) override;

 private:
  // Runs one admin function call (validated already) and decodes its settings reply.
  // `rpc` and `request` (what was asked, in words) go into the audit log line written when the
  // call succeeds, with the caller and the region's settings before and after.
  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* context, const char* rpc,
                                 std::string request, const std::string& region_code,
                                 std::vector<std::string> command, v1::RegionSettings* response);
  const RegionRegistry* regions_;
  EnrollmentServiceImpl* enrollment_;
  int64_t kabkota_capacity_;
};

}  // namespace uhc
