#include "classifier-svc/classifier_service.h"


#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/domain/regions.h"
#include "common/domain/text.h"
#include "classifier-svc/watch_stream.h"
#include "common/server/status.h"
#include "common/domain/plan.h"
#include "common/domain/policy.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace uhc {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// Changes queued for one slow watcher before its stream ends (RESOURCE_EXHAUSTED).
constexpr size_t kMaxQueuedChanges = 10000;
// Tokens are base64 of "<policy>|<province>|<level>|<tier>#<code>": well under this.
constexpr size_t kMaxPageTokenBytes = 512;

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

std::string Fingerprint(const v1::ListRegionTiersRequest& r, const std::string& policy) {
  return absl::StrCat(policy, "|", r.province_code(), "|", r.level(), "|", r.tier());
}

// "unknown tier 'madia' (did you mean 'madya'? uhc-awards-2026 has utama, madya, pratama)".
std::string UnknownTier(const std::string& tier, const v1::PolicyConfig& policy, bool allow_none) {
  std::vector<std::string> ids;
  for (const v1::TierRule& t : policy.tiers()) ids.push_back(t.id());
  if (allow_none) ids.push_back(kNoTier);
  std::string closest = Closest(tier, ids);
  return absl::StrCat("unknown tier '", Clip(tier), "' (",
                      closest.empty() ? "" : absl::StrCat("did you mean '", closest, "'? "),
                      policy.id(), " has ", absl::StrJoin(ids, ", "), ")");
}

}  // namespace

ClassifierServiceImpl::ClassifierServiceImpl(const RegionRegistry* regions,
                                             const PolicySet* policies, Refresher* refresher,
                                             TierChangeHub* hub, RedisExecutor* executor,
                                             const TokenAuthorizer* auth)
    : regions_(regions),
      policies_(policies),
      refresher_(refresher),
      hub_(hub),
      executor_(executor),
      auth_(auth) {}

grpc::Status ClassifierServiceImpl::Resolve(const std::string& region_code,
                                            const std::string& policy_id,
                                            std::shared_ptr<const Snapshot>* snapshot,
                                            const SnapshotEntry** entry,
                                            const v1::PolicyConfig** policy) const {
  *policy = policies_->Find(policy_id);
  if (*policy == nullptr) {
    std::string known;
    for (const auto& [id, p] : policies_->all()) absl::StrAppend(&known, known.empty() ? "" : ", ", id);
    return InvalidArgument({{"policy_id", absl::StrCat("unknown policy '", Clip(policy_id),
                                                       "' (known: ", known, ")")}});
  }
  if (region_code.empty()) return InvalidArgument({{"region_code", "is required"}});
  *snapshot = refresher_->snapshot();
  *entry = (*snapshot)->Find(region_code);
  if (*entry == nullptr) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, regions_->UnknownRegion(region_code));
  }
  return grpc::Status::OK;
}

void ClassifierServiceImpl::Stamp(const Snapshot& snapshot, v1::RegionTier* tier) const {
  if (snapshot.read_at() != absl::InfinitePast()) {
    *tier->mutable_as_of() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(snapshot.read_at()));
  }
  tier->set_stale(refresher_->stale());
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::GetRegionTier(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  if (auth_ != nullptr) {
    if (grpc::Status denied = auth_->Check(*context, Role::kRead); !denied.ok()) {
      return Finish(context, denied);
    }
  }
  v1::GetRegionTierRequest parsed;
  grpc::ByteBuffer copy(*request);  // Deserialize consumes its buffer
  if (!grpc::SerializationTraits<v1::GetRegionTierRequest>::Deserialize(&copy, &parsed).ok()) {
    return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "malformed request"));
  }
  std::shared_ptr<const Snapshot> snapshot;
  const SnapshotEntry* entry = nullptr;
  const v1::PolicyConfig* policy = nullptr;
  grpc::Status status =
      Resolve(parsed.region_code(), parsed.policy_id(), &snapshot, &entry, &policy);
  if (status.ok()) {
    // Fields appended to a serialized message merge into it: as_of, then stale (field 12).
    std::string bytes = entry->serialized.find(policy->id())->second;
    bytes += snapshot->as_of_field();
    if (refresher_->stale()) bytes += std::string("\x60\x01", 2);
    grpc::Slice slice(bytes);
    *response = grpc::ByteBuffer(&slice, 1);
  }
  return Finish(context, status);
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::ListRegionTiers(
    grpc::CallbackServerContext* context, const v1::ListRegionTiersRequest* request,
    v1::ListRegionTiersResponse* response) {
  if (auth_ != nullptr) {
    if (grpc::Status denied = auth_->Check(*context, Role::kRead); !denied.ok()) {
      return Finish(context, denied);
    }
  }
  const v1::PolicyConfig* policy = policies_->Find(request->policy_id());
  if (policy == nullptr) {
    return Finish(context, InvalidArgument({{"policy_id", absl::StrCat("unknown policy '",
                                                                       Clip(request->policy_id()), "'")}}));
  }
  if (!request->province_code().empty()) {
    const Region* p = regions_->Find(request->province_code());
    if (p == nullptr || p->level != RegionLevel::kProvince) {
      return Finish(context, InvalidArgument({{"province_code",
                                               p == nullptr
                                                   ? regions_->UnknownRegion(request->province_code())
                                                   : absl::StrCat("'", p->code, "' is not a province")}}));
    }
  }
  if (!request->tier().empty() && request->tier() != kNoTier &&
      TierIndex(*policy, request->tier()) < 0) {
    return Finish(context, InvalidArgument({{"tier", UnknownTier(request->tier(), *policy, true)}}));
  }
  if (request->page_size() < 0) {
    return Finish(context, InvalidArgument({{"page_size", "must be >= 0"}}));
  }
  int page_size = request->page_size() == 0 ? kDefaultPageSize
                                            : std::min(request->page_size(), kMaxPageSize);
  std::string fingerprint = Fingerprint(*request, policy->id());
  std::string after;
  if (request->page_token().size() > kMaxPageTokenBytes) {
    return Finish(context, InvalidArgument({{"page_token", "is not a token of this listing"}}));
  }
  if (!request->page_token().empty()) {
    std::string decoded;
    std::vector<std::string> parts;
    if (absl::WebSafeBase64Unescape(request->page_token(), &decoded)) {
      parts = absl::StrSplit(decoded, absl::MaxSplits('#', 1));
    }
    if (parts.size() != 2 || parts[0] != fingerprint || regions_->Find(parts[1]) == nullptr) {
      return Finish(context, InvalidArgument({{"page_token",
                                               "is not a token of this listing (the filter must "
                                               "not change between pages)"}}));
    }
    after = parts[1];
  }
  std::shared_ptr<const Snapshot> snapshot = refresher_->snapshot();
  auto matches = [&](const SnapshotEntry& entry) {
    const v1::RegionTier& tier = entry.tiers.at(policy->id());
    const std::string& province = request->province_code();
    return (request->level() == v1::REGION_LEVEL_UNSPECIFIED || tier.level() == request->level()) &&
           (province.empty() || entry.region->code == province ||
            entry.region->parent_code == province) &&
           (request->tier().empty() || tier.tier() == request->tier());
  };
  // Entries are in code order; the page starts after the token's region.
  int total = 0;
  bool started = after.empty();
  std::string last;
  for (const auto& entry : snapshot->entries()) {
    if (!matches(*entry)) {
      if (entry->region->code == after) started = true;
      continue;
    }
    ++total;
    if (!started) {
      started = entry->region->code == after;
      continue;
    }
    if (response->regions_size() == page_size) {
      if (response->next_page_token().empty()) {
        response->set_next_page_token(
            absl::WebSafeBase64Escape(absl::StrCat(fingerprint, "#", last)));
      }
      continue;  // keep counting total_size
    }
    v1::RegionTier* out = response->add_regions();
    *out = entry->tiers.at(policy->id());
    Stamp(*snapshot, out);
    last = entry->region->code;
  }
  response->set_total_size(total);
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::PlanTier(grpc::CallbackServerContext* context,
                                                          const v1::PlanTierRequest* request,
                                                          v1::TierPlan* response) {
  if (auth_ != nullptr) {
    if (grpc::Status denied = auth_->Check(*context, Role::kRead); !denied.ok()) {
      return Finish(context, denied);
    }
  }
  std::shared_ptr<const Snapshot> snapshot;
  const SnapshotEntry* entry = nullptr;
  const v1::PolicyConfig* policy = nullptr;
  grpc::Status status =
      Resolve(request->region_code(), request->policy_id(), &snapshot, &entry, &policy);
  if (!status.ok()) return Finish(context, status);
  int target = TierIndex(*policy, request->target_tier());
  if (target < 0) {
    return Finish(context, InvalidArgument(
                               {{"target_tier", UnknownTier(request->target_tier(), *policy, false)}}));
  }
  *response = uhc::PlanTier(*policy, entry->counts, target);
  response->set_region_code(entry->region->code);
  return Finish(context, grpc::Status::OK);
}

grpc::Status ClassifierServiceImpl::CheckWatchFilters(const std::string& region_code,
                                                      const std::string& province_code,
                                                      const std::string& policy_id) const {
  if (!policy_id.empty() && policies_->Find(policy_id) == nullptr) {
    return InvalidArgument({{"policy_id", absl::StrCat("unknown policy '", Clip(policy_id), "'")}});
  }
  if (!province_code.empty()) {
    const Region* p = regions_->Find(province_code);
    if (p == nullptr || p->level != RegionLevel::kProvince) {
      return InvalidArgument({{"province_code", p == nullptr ? regions_->UnknownRegion(province_code)
                                                             : absl::StrCat("'", p->code,
                                                                            "' is not a province")}});
    }
  }
  if (!region_code.empty() && regions_->Find(region_code) == nullptr) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, regions_->UnknownRegion(region_code));
  }
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<v1::WatchTierChangesResponse>* ClassifierServiceImpl::WatchTierChanges(
    grpc::CallbackServerContext* context, const v1::WatchTierChangesRequest* request) {
  grpc::Status status = auth_ == nullptr ? grpc::Status::OK : auth_->Check(*context, Role::kRead);
  if (status.ok()) {
    status = CheckWatchFilters(request->region_code(), request->province_code(),
                               request->policy_id());
  }
  std::optional<LogPosition> resume;
  if (status.ok() && !request->resume_token().empty()) {
    resume = ParseResumeToken(request->resume_token());
    if (!resume) {
      status = InvalidArgument({{"resume_token", "is not a resume_token of WatchTierChanges"}});
    }
  }
  return new WatchStream(hub_, executor_, regions_, *request, resume, status, kMaxQueuedChanges);
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::ListPolicies(grpc::CallbackServerContext* context,
                                                              const v1::ListPoliciesRequest*,
                                                              v1::ListPoliciesResponse* response) {
  if (auth_ != nullptr) {
    if (grpc::Status denied = auth_->Check(*context, Role::kRead); !denied.ok()) {
      return Finish(context, denied);
    }
  }
  for (const auto& [id, policy] : policies_->all()) {
    v1::PolicySummary* s = response->add_policies();
    s->set_id(id);
    s->set_name(policy.name());
    s->set_description(policy.description());
    s->set_activity_denominator(policy.activity_denominator() == v1::PARTICIPANTS ? "participants"
                                                                                  : "population");
    s->set_pemda_monthly_cost_idr(policy.pemda_monthly_cost_idr());
    for (const v1::TierRule& tier : policy.tiers()) {
      v1::TierSummary* t = s->add_tiers();
      t->set_id(tier.id());
      t->set_name(tier.name());
      t->set_rule(DescribeTier(tier));
    }
    for (const v1::Requirement& req : policy.requirements()) {
      s->add_requirements(DescribeRequirement(req));
    }
  }
  response->set_default_policy_id(policies_->default_id());
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::ListTierChanges(
    grpc::CallbackServerContext* context, const v1::ListTierChangesRequest* request,
    v1::ListTierChangesResponse* response) {
  if (auth_ != nullptr) {
    if (grpc::Status denied = auth_->Check(*context, Role::kRead); !denied.ok()) {
      return Finish(context, denied);
    }
  }
  if (regions_->Find(request->region_code()) == nullptr) {
    return Finish(context, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                        regions_->UnknownRegion(request->region_code())));
  }
  if (grpc::Status bad = CheckWatchFilters("", "", request->policy_id()); !bad.ok()) {
    return Finish(context, bad);
  }
  int limit = request->limit() <= 0 ? 100 : std::min(request->limit(), 1000);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  bool queued = executor_->Submit([reactor, request, response, limit](RedisClient& c) {
    absl::StatusOr<std::vector<v1::TierChange>> history =
        ReadTierHistory(c, request->region_code(), request->policy_id(), limit);
    if (!history.ok()) {
      reactor->Finish(ToGrpcStatus(history.status()));
      return;
    }
    for (v1::TierChange& change : *history) *response->add_changes() = std::move(change);
    reactor->Finish(grpc::Status::OK);
  });
  if (!queued) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server overloaded"));
  }
  return reactor;
}

}  // namespace uhc
