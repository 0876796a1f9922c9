#pragma once

#include "classifier-svc/change_hub.h"
#include "classifier-svc/past.h"
#include "classifier-svc/refresher.h"
#include "classifier-svc/watch_limits.h"
#include "common/redis/executor.h"
#include "common/server/auth.h"
#include "common/server/unary.h"
#include "uhc/v1/classifier.grpc.pb.h"

namespace uhc {

// ClassifierService: every tier query about now is answered from the current snapshot, in
// memory, on the callback thread (no I/O). Questions about the past (as_of_date, cutoff_id,
// GetRegionTrend) and ListTierChanges read Redis, through the executor (classifier-svc/past.h).
// GetRegionTier (the hot query) and ListRegionTiers (~0.7 MB for the whole country in FULL) are
// raw methods: they answer with the snapshot's pre-serialized RegionTier bytes in the requested
// view plus as_of and stale (classifier-svc/tier_wire.h), instead of copying and serializing
// RegionTier messages per call.
class ClassifierServiceImpl final
    : public v1::ClassifierService::WithRawCallbackMethod_GetRegionTier<
          v1::ClassifierService::WithRawCallbackMethod_ListRegionTiers<
              v1::ClassifierService::CallbackService>> {
 public:
  // Pointers are not owned and must outlive the service.
  ClassifierServiceImpl(const RegionRegistry* regions, const PolicySet* policies,
                        Refresher* refresher, TierChangeHub* hub, RedisExecutor* executor,
                        const TokenAuthorizer* auth, WatchStreams* watch_streams);

  grpc::ServerUnaryReactor* GetRegionTier(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListRegionTiers(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* PlanTier(grpc::CallbackServerContext* context,
                                     const v1::PlanTierRequest* request,
                                     v1::TierPlan* response) override;
  grpc::ServerWriteReactor<v1::WatchTierChangesResponse>* WatchTierChanges(
      grpc::CallbackServerContext* context, const v1::WatchTierChangesRequest* request) override;
  grpc::ServerUnaryReactor* ListPolicies(grpc::CallbackServerContext* context,
                                         const v1::ListPoliciesRequest* request,
                                         v1::ListPoliciesResponse* response) override;
  grpc::ServerUnaryReactor* ListTierChanges(grpc::CallbackServerContext* context,
                                            const v1::ListTierChangesRequest* request,
                                            v1::ListTierChangesResponse* response) override;
  grpc::ServerUnaryReactor* GetRegionTrend(grpc::CallbackServerContext* context,
                                           const v1::GetRegionTrendRequest* request,
                                           v1::RegionTrend* response) override;

 private:
  // The snapshot a tier query is answered from, and what each of its answers carries on top of
  // the pre-serialized rows (tier_wire.h AnswerFields, then as_of_date and cutoff_id).
  struct Source {
    std::shared_ptr<const Snapshot> snapshot;
    std::string answer_fields;
  };
  // The live snapshot.
  Source Live() const;
  // The snapshot as of `as_of_date` or of cut-off `cutoff_id` (one of them set), read on the
  // executor.
  absl::StatusOr<Source> Past(RedisClient& redis, const std::string& as_of_date,
                              const std::string& cutoff_id);
  // The request's date and cut-off: at most one, the date well-formed and not in the future.
  static absl::Status CheckPast(const std::string& as_of_date, const std::string& cutoff_id);
  // Answers from the live snapshot, or, when the request names a date or a cut-off, from the
  // past read on the executor. `status`: the request's parse; `answer` fills the response from a
  // source (it may run twice: a check against the live snapshot first).
  grpc::ServerUnaryReactor* LiveOrPast(grpc::CallbackServerContext* context, absl::Status status,
                                       std::string as_of_date, std::string cutoff_id,
                                       std::function<absl::Status(const Source&)> answer);
  // GetRegionTier's answer from `source`.
  absl::Status AnswerTier(const v1::GetRegionTierRequest& request, const Source& source,
                          grpc::ByteBuffer* response) const;
  // WatchTierChanges filters (and ListTierChanges' policy): each empty or known.
  absl::Status CheckWatchFilters(const std::string& region_code, const std::string& province_code,
                                 const std::string& policy_id) const;
  // ListRegionTiers' answer from the current snapshot: a serialized ListRegionTiersResponse.
  absl::Status ListFromSnapshot(const v1::ListRegionTiersRequest& request, const Source& source,
                                std::string* response) const;
  // The entry and policy of a request, or the error to answer.
  absl::Status Resolve(const std::string& region_code, const std::string& policy_id,
                       const Snapshot& snapshot, const SnapshotEntry** entry,
                       const v1::PolicyConfig** policy) const;

  const RegionRegistry* regions_;
  const PolicySet* policies_;
  Refresher* refresher_;
  TierChangeHub* hub_;
  RedisExecutor* executor_;
  WatchStreams* watch_streams_;
  UnaryCalls calls_;
  PastAnswers past_;
};

}  // namespace uhc
