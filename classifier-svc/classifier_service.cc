#include "classifier-svc/classifier_service.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "classifier-svc/tier_wire.h"
#include "classifier-svc/watch_stream.h"
#include "common/domain/errors.h"
#include "common/domain/plan.h"
#include "common/domain/policy.h"
#include "common/domain/regions.h"
#include "common/domain/text.h"
#include "common/redis/history.h"
#include "common/server/page_token.h"
#include "common/server/status.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace uhc {
namespace {

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

absl::Status UnknownView(v1::RegionTierView view) {
  return InvalidField("view", absl::StrCat("unknown view ", static_cast<int>(view),
                                           " (REGION_TIER_VIEW_BASIC or REGION_TIER_VIEW_FULL)"));
}

// A raw method's request. Deserialize consumes its buffer, so it reads a copy (sharing slices).
template <typename Request>
absl::Status ParseRequest(const grpc::ByteBuffer& raw, Request* request) {
  grpc::ByteBuffer copy(raw);
  if (!grpc::SerializationTraits<Request>::Deserialize(&copy, request).ok()) {
    return absl::InvalidArgumentError("malformed request");
  }
  return absl::OkStatus();
}

// `bytes` as a one-slice ByteBuffer that takes them over: a page can be ~1 MB, not copied again.
grpc::ByteBuffer ToByteBuffer(std::string bytes) {
  auto* owned = new std::string(std::move(bytes));
  grpc::Slice slice(
      owned->data(), owned->size(), [](void* p) { delete static_cast<std::string*>(p); }, owned);
  return grpc::ByteBuffer(&slice, 1);
}

absl::Status UnknownPolicy(const std::string& id, const PolicySet& policies) {
  std::vector<std::string> known;
  for (const auto& [known_id, p] : policies.all()) known.push_back(known_id);
  return NotFound(
      reason::kPolicyNotFound, {"uhc.v1.Policy", Clip(id)},
      absl::StrCat("unknown policy '", Clip(id), "' (known: ", absl::StrJoin(known, ", "), ")"));
}

// A province filter: empty, or a province's code.
absl::Status CheckProvince(const RegionRegistry& regions, const std::string& code) {
  if (code.empty()) return absl::OkStatus();
  const Region* p = regions.Find(code);
  if (p == nullptr) return regions.RegionNotFound(code);
  if (p->level != RegionLevel::kProvince) {
    return InvalidField("province_code", absl::StrCat("'", p->code, "' is not a province"));
  }
  return absl::OkStatus();
}

// A required region code.
absl::Status CheckRegion(const RegionRegistry& regions, const std::string& code) {
  if (code.empty()) return InvalidField("region_code", "is required");
  if (regions.Find(code) == nullptr) return regions.RegionNotFound(code);
  return absl::OkStatus();
}

}  // namespace

ClassifierServiceImpl::ClassifierServiceImpl(const RegionRegistry* regions,
                                             const PolicySet* policies, Refresher* refresher,
                                             TierChangeHub* hub, RedisExecutor* executor,
                                             const TokenAuthorizer* auth,
                                             WatchStreams* watch_streams)
    : regions_(regions),
      policies_(policies),
      refresher_(refresher),
      hub_(hub),
      executor_(executor),
      watch_streams_(watch_streams),
      calls_(auth, executor, nullptr),
      past_(regions, policies, refresher) {}

absl::Status ClassifierServiceImpl::Resolve(const std::string& region_code,
                                            const std::string& policy_id, const Snapshot& snapshot,
                                            const SnapshotEntry** entry,
                                            const v1::PolicyConfig** policy) const {
  *policy = policies_->Find(policy_id);
  if (*policy == nullptr) return UnknownPolicy(policy_id, *policies_);
  if (region_code.empty()) return InvalidField("region_code", "is required");
  *entry = snapshot.Find(region_code);
  if (*entry == nullptr) return regions_->RegionNotFound(region_code);
  return absl::OkStatus();
}

ClassifierServiceImpl::Source ClassifierServiceImpl::Live() const {
  Source source;
  source.snapshot = refresher_->snapshot();
  source.answer_fields = AnswerFields(source.snapshot->as_of_field(), refresher_->stale());
  return source;
}

absl::Status ClassifierServiceImpl::CheckPast(const std::string& as_of_date,
                                              const std::string& cutoff_id) {
  if (!as_of_date.empty() && !cutoff_id.empty()) {
    return InvalidField("cutoff_id", "excludes as_of_date: a cut-off has its own date");
  }
  if (!as_of_date.empty()) return PastAnswers::CheckDate("as_of_date", as_of_date).status();
  std::vector<FieldViolation> violations;
  if (!cutoff_id.empty()) CheckCutoffId("cutoff_id", cutoff_id, &violations);
  return violations.empty() ? absl::OkStatus() : InvalidFields(violations);
}

absl::StatusOr<ClassifierServiceImpl::Source> ClassifierServiceImpl::Past(
    RedisClient& redis, const std::string& as_of_date, const std::string& cutoff_id) {
  Source source;
  v1::RegionTier marks;  // merged into every answer after the rows' bytes
  if (!cutoff_id.empty()) {
    absl::StatusOr<PastAnswers::Frozen> frozen = past_.Cutoff(redis, cutoff_id);
    if (!frozen.ok()) return frozen.status();
    source.snapshot = frozen->snapshot;
    marks.set_as_of_date(frozen->cutoff.as_of_date());
    marks.set_cutoff_id(cutoff_id);
  } else {
    absl::StatusOr<absl::CivilDay> day = PastAnswers::CheckDate("as_of_date", as_of_date);
    if (!day.ok()) return day.status();
    absl::StatusOr<std::shared_ptr<const Snapshot>> snapshot = past_.At(redis, *day);
    if (!snapshot.ok()) return snapshot.status();
    source.snapshot = *std::move(snapshot);
    marks.set_as_of_date(as_of_date);
  }
  source.answer_fields =
      AnswerFields(source.snapshot->as_of_field(), false) + marks.SerializeAsString();
  return source;
}

absl::Status ClassifierServiceImpl::AnswerTier(const v1::GetRegionTierRequest& request,
                                               const Source& source,
                                               grpc::ByteBuffer* response) const {
  std::optional<v1::RegionTierView> view = EffectiveView(request.view(), v1::REGION_TIER_VIEW_FULL);
  if (!view) return UnknownView(request.view());
  const SnapshotEntry* entry = nullptr;
  const v1::PolicyConfig* policy = nullptr;
  absl::Status status =
      Resolve(request.region_code(), request.policy_id(), *source.snapshot, &entry, &policy);
  if (!status.ok()) return status;
  *response =
      ToByteBuffer(TierAnswer(entry->serialized.at(policy->id()), *view, source.answer_fields));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::LiveOrPast(
    grpc::CallbackServerContext* context, absl::Status status, std::string as_of_date,
    std::string cutoff_id, std::function<absl::Status(const Source&)> answer) {
  if (status.ok()) status = CheckPast(as_of_date, cutoff_id);
  if (status.ok() && (!as_of_date.empty() || !cutoff_id.empty())) {
    // Checked first against the live snapshot: a bad region, policy or filter costs no Redis
    // read (the answer it makes is replaced).
    status = answer(Live());
    if (status.ok()) {
      return calls_.OnExecutor(
          context, Role::kRead,
          [this, as_of_date, cutoff_id, answer](RedisClient& redis) -> absl::Status {
            absl::StatusOr<Source> source = Past(redis, as_of_date, cutoff_id);
            if (!source.ok()) return source.status();
            return answer(*source);
          });
    }
  }
  return calls_.Answer(context, Role::kRead, [&] { return status.ok() ? answer(Live()) : status; });
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::GetRegionTier(grpc::CallbackServerContext* context,
                                                               const grpc::ByteBuffer* request,
                                                               grpc::ByteBuffer* response) {
  auto parsed = std::make_shared<v1::GetRegionTierRequest>();
  absl::Status status = ParseRequest(*request, parsed.get());
  return LiveOrPast(context, status, parsed->as_of_date(), parsed->cutoff_id(),
                    [this, parsed, response](const Source& source) {
                      return AnswerTier(*parsed, source, response);
                    });
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::ListRegionTiers(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto parsed = std::make_shared<v1::ListRegionTiersRequest>();
  absl::Status status = ParseRequest(*request, parsed.get());
  return LiveOrPast(context, status, parsed->as_of_date(), parsed->cutoff_id(),
                    [this, parsed, response](const Source& source) {
                      std::string bytes;
                      absl::Status s = ListFromSnapshot(*parsed, source, &bytes);
                      if (s.ok()) *response = ToByteBuffer(std::move(bytes));
                      return s;
                    });
}

absl::Status ClassifierServiceImpl::ListFromSnapshot(const v1::ListRegionTiersRequest& req,
                                                     const Source& source,
                                                     std::string* response) const {
  const v1::ListRegionTiersRequest* request = &req;
  const v1::PolicyConfig* policy = policies_->Find(request->policy_id());
  if (policy == nullptr) return UnknownPolicy(request->policy_id(), *policies_);
  if (absl::Status s = CheckProvince(*regions_, request->province_code()); !s.ok()) return s;
  if (!v1::RegionLevel_IsValid(request->level())) {
    return InvalidField("level", absl::StrCat("unknown level ", static_cast<int>(request->level()),
                                              " (REGION_LEVEL_NATION, _PROVINCE or _REGENCY)"));
  }
  if (!request->tier().empty() && request->tier() != kNoTier &&
      TierIndex(*policy, request->tier()) < 0) {
    return InvalidField("tier", UnknownTier(request->tier(), *policy, true));
  }
  std::optional<v1::RegionTierView> view =
      EffectiveView(request->view(), v1::REGION_TIER_VIEW_BASIC);
  if (!view) return UnknownView(request->view());
  // The token is bound to every field that selects regions (the view only shapes them).
  const std::string listing = Listing({"ListRegionTiers", policy->id(), request->province_code(),
                                       std::to_string(request->level()), request->tier(),
                                       request->as_of_date(), request->cutoff_id()});
  absl::StatusOr<PageRequest> paging =
      ReadPage(request->page_size(), request->page_token(), listing);
  if (!paging.ok()) return paging.status();
  if (!paging->after.empty() && regions_->Find(paging->after) == nullptr) {
    return WithReason(InvalidField("page_token", "names no region"), reason::kPageTokenInvalid);
  }
  const int page_size = paging->size;
  const std::string& after = paging->after;
  const std::shared_ptr<const Snapshot>& snapshot = source.snapshot;
  auto matches = [&](const SnapshotEntry& entry) {
    const v1::RegionTier& tier = entry.tiers.at(policy->id());
    const std::string& province = request->province_code();
    return (request->level() == v1::REGION_LEVEL_UNSPECIFIED || tier.level() == request->level()) &&
           (province.empty() || entry.region->code == province ||
            entry.region->parent_code == province) &&
           (request->tier().empty() || tier.tier() == request->tier());
  };
  // One stale flag for the whole page, read once: every row says the same.
  ListResponseWriter page(*view, source.answer_fields);
  std::string next_page_token;
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
    if (page.size() == page_size) {
      if (next_page_token.empty()) next_page_token = NextPageToken(listing, last);
      continue;  // keep counting total_size
    }
    page.Add(entry->serialized.at(policy->id()));
    last = entry->region->code;
  }
  // `snapshot` still holds the rows the writer points to.
  *response = page.Finish(next_page_token, total);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::PlanTier(grpc::CallbackServerContext* context,
                                                          const v1::PlanTierRequest* request,
                                                          v1::TierPlan* response) {
  return calls_.Answer(context, Role::kRead, [&] {
    std::shared_ptr<const Snapshot> snapshot = refresher_->snapshot();
    const SnapshotEntry* entry = nullptr;
    const v1::PolicyConfig* policy = nullptr;
    absl::Status status =
        Resolve(request->region_code(), request->policy_id(), *snapshot, &entry, &policy);
    if (!status.ok()) return status;
    int target = TierIndex(*policy, request->target_tier());
    if (request->target_tier().empty()) {
      // The tier above the one held (tiers run highest first); the highest when it is held.
      const int held = TierIndex(*policy, entry->tiers.at(policy->id()).tier());
      target = held < 0 ? policy->tiers_size() - 1 : std::max(held - 1, 0);
    } else if (target < 0) {
      return InvalidField("target_tier", UnknownTier(request->target_tier(), *policy, false));
    }
    *response = uhc::PlanTier(*policy, entry->counts, target);
    response->set_region_code(entry->region->code);
    return absl::OkStatus();
  });
}

absl::Status ClassifierServiceImpl::CheckWatchFilters(const std::string& region_code,
                                                      const std::string& province_code,
                                                      const std::string& policy_id) const {
  if (!policy_id.empty() && policies_->Find(policy_id) == nullptr) {
    return UnknownPolicy(policy_id, *policies_);
  }
  if (absl::Status s = CheckProvince(*regions_, province_code); !s.ok()) return s;
  if (!region_code.empty() && regions_->Find(region_code) == nullptr) {
    return regions_->RegionNotFound(region_code);
  }
  return absl::OkStatus();
}

grpc::ServerWriteReactor<v1::WatchTierChangesResponse>* ClassifierServiceImpl::WatchTierChanges(
    grpc::CallbackServerContext* context, const v1::WatchTierChangesRequest* request) {
  absl::Status status = calls_.Authorize(*context, Role::kRead);
  if (status.ok()) {
    status =
        CheckWatchFilters(request->region_code(), request->province_code(), request->policy_id());
  }
  std::optional<LogPosition> resume;
  if (status.ok() && !request->resume_token().empty()) {
    resume = ParseResumeToken(request->resume_token());
    if (!resume) {
      status = InvalidField("resume_token", "is not a resume_token of WatchTierChanges");
    }
  }
  return new WatchStream(hub_, executor_, watch_streams_, regions_, *request, resume, status,
                         calls_.CallerKey(*context));
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::ListPolicies(
    grpc::CallbackServerContext* context, const v1::ListPoliciesRequest* request,
    v1::ListPoliciesResponse* response) {
  return calls_.Answer(context, Role::kRead, [&] {
    const std::string listing = Listing({"ListPolicies"});
    absl::StatusOr<PageRequest> page =
        ReadPage(request->page_size(), request->page_token(), listing);
    if (!page.ok()) return page.status();
    // By id (all() is ordered), after the previous page's last id.
    for (const auto& [id, policy] : policies_->all()) {
      if (!page->after.empty() && id <= page->after) continue;
      if (response->policies_size() == page->size) {
        response->set_next_page_token(NextPageToken(listing, response->policies().rbegin()->id()));
        break;
      }
      v1::PolicySummary* s = response->add_policies();
      s->set_id(id);
      s->set_name(policy.name());
      s->set_description(policy.description());
      s->set_activity_denominator(
          policy.activity_denominator() == v1::ACTIVITY_DENOMINATOR_PARTICIPANTS ? "participants"
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
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::ListTierChanges(
    grpc::CallbackServerContext* context, const v1::ListTierChangesRequest* request,
    v1::ListTierChangesResponse* response) {
  absl::Status bad = CheckWatchFilters("", "", request->policy_id());
  if (bad.ok()) bad = CheckRegion(*regions_, request->region_code());
  const std::string listing =
      Listing({"ListTierChanges", request->region_code(), request->policy_id()});
  absl::StatusOr<PageRequest> page = ReadPage(request->page_size(), request->page_token(), listing);
  if (bad.ok()) bad = page.status();
  if (!bad.ok()) return calls_.Answer(context, Role::kRead, [&] { return bad; });
  return calls_.OnExecutor(
      context, Role::kRead,
      [request, response, listing, page = *std::move(page)](RedisClient& redis) {
        absl::StatusOr<std::vector<v1::TierChange>> history =
            ReadTierHistory(redis, request->region_code(), request->policy_id());
        if (!history.ok()) return history.status();
        // Newest first; a page starts after the previous page's last change (by its identity, not
        // its index: changes recorded meanwhile are newer and do not shift the pages).
        size_t i = 0;
        if (!page.after.empty()) {
          while (i < history->size() && TierChangeKey((*history)[i]) != page.after) ++i;
          ++i;  // past it; past the end when it was trimmed away (older ones went with it)
        }
        for (; i < history->size(); ++i) {
          if (response->changes_size() == page.size) {
            response->set_next_page_token(
                NextPageToken(listing, TierChangeKey(*response->changes().rbegin())));
            break;
          }
          *response->add_changes() = std::move((*history)[i]);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::GetRegionTrend(
    grpc::CallbackServerContext* context, const v1::GetRegionTrendRequest* request,
    v1::RegionTrend* response) {
  constexpr size_t kMaxPoints = 1000;
  const v1::PolicyConfig* policy = policies_->Find(request->policy_id());
  const Region* region = regions_->Find(request->region_code());
  absl::Status bad;
  absl::StatusOr<std::vector<absl::CivilDay>> days = std::vector<absl::CivilDay>{};
  if (policy == nullptr) {
    bad = UnknownPolicy(request->policy_id(), *policies_);
  } else if (region == nullptr) {
    bad = CheckRegion(*regions_, request->region_code());
  } else if (request->interval() != v1::TREND_INTERVAL_UNSPECIFIED &&
             request->interval() != v1::TREND_INTERVAL_MONTH &&
             request->interval() != v1::TREND_INTERVAL_DAY) {
    bad = InvalidField("interval", "TREND_INTERVAL_MONTH or TREND_INTERVAL_DAY");
  } else {
    absl::StatusOr<absl::CivilDay> to = request->to_date().empty()
                                            ? absl::StatusOr<absl::CivilDay>(WibToday(absl::Now()))
                                            : PastAnswers::CheckDate("to_date", request->to_date());
    absl::StatusOr<absl::CivilDay> from = to;
    if (to.ok()) {
      from = request->from_date().empty()
                 ? absl::StatusOr<absl::CivilDay>(absl::CivilDay(absl::CivilMonth(*to) - 11))
                 : PastAnswers::CheckDate("from_date", request->from_date());
    }
    if (!to.ok() || !from.ok()) {
      bad = to.ok() ? from.status() : to.status();
    } else {
      days = TrendDays(*from, *to, request->interval(), kMaxPoints);
      bad = days.status();
    }
  }
  if (!bad.ok()) return calls_.Answer(context, Role::kRead, [bad] { return bad; });
  return calls_.OnExecutor(context, Role::kRead,
                           [this, region, policy, days = *std::move(days),
                            response](RedisClient& redis) -> absl::Status {
                             absl::StatusOr<v1::RegionTrend> trend =
                                 past_.Trend(redis, *region, *policy, days);
                             if (!trend.ok()) return trend.status();
                             *response = *std::move(trend);
                             return absl::OkStatus();
                           });
}

}  // namespace uhc
