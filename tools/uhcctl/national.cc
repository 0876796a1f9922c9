#include "tools/uhcctl/national.h"

#include <algorithm>
#include <tuple>

#include "absl/time/clock.h"

namespace uhc::cli {

bool FetchAll(const Command& cmd, v1::ClassifierService::Stub* stub, const std::string& policy,
              absl::Time fresh_after, std::vector<v1::RegionTier>* out, int* exit_code) {
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (;;) {
    v1::ListRegionTiersRequest request;
    request.set_policy_id(policy);
    request.set_page_size(1000);
    // Summary and report use fields outside the basic view (parent, figures, next tier lacks).
    request.set_view(v1::REGION_TIER_VIEW_FULL);
    v1::ListRegionTiersResponse response;
    grpc::ClientContext context;
    Authenticate(&context);
    context.set_deadline(Deadline(30));
    grpc::Status status = stub->ListRegionTiers(&context, request, &response);
    if (!status.ok()) {
      *exit_code = ReportRpcError(cmd, status);
      return false;
    }
    bool fresh = !response.regions().empty() &&
                 absl::FromUnixSeconds(response.regions(0).snapshot_time().seconds()) +
                         absl::Nanoseconds(response.regions(0).snapshot_time().nanos()) >=
                     fresh_after;
    if (fresh || absl::Now() > deadline) {
      out->assign(response.regions().begin(), response.regions().end());
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));  // polling the condition "snapshot is fresh"
  }
}

std::vector<TierLabel> PolicyTiers(v1::ClassifierService::Stub* stub, const std::string& policy) {
  v1::ListPoliciesResponse response;
  grpc::ClientContext context;
  Authenticate(&context);
  context.set_deadline(Deadline(10));
  std::vector<TierLabel> tiers;
  if (stub->ListPolicies(&context, v1::ListPoliciesRequest(), &response).ok()) {
    std::string id = policy.empty() ? response.default_policy_id() : policy;
    for (const auto& p : response.policies()) {
      if (p.id() != id) continue;
      for (const auto& t : p.tiers()) tiers.push_back({t.id(), t.name()});
    }
  }
  tiers.push_back({"none", "no tier"});
  return tiers;
}

int64_t GapInPeople(const v1::RegionTier& t) {
  if (t.next_tier().empty()) return -1;
  int64_t sum = 0;
  for (const auto& c : t.next_tier_lacks()) {
    if (c.shortfall_people() < 0) return -1;
    sum = std::max(sum, c.shortfall_people());
  }
  return sum;
}

std::vector<const v1::RegionTier*> UpgradeCandidates(const std::vector<v1::RegionTier>& all) {
  std::vector<std::pair<int64_t, const v1::RegionTier*>> near;
  for (const auto& t : all) {
    int64_t gap = GapInPeople(t);
    if (t.level() == v1::REGION_LEVEL_REGENCY && gap > 0) near.emplace_back(gap, &t);
  }
  std::sort(near.begin(), near.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first
                              : a.second->region_code() < b.second->region_code();
  });
  std::vector<const v1::RegionTier*> regions;
  for (const auto& [gap, t] : near) regions.push_back(t);
  return regions;
}

std::optional<v1::TierPlan> PlanNextTier(v1::ClassifierService::Stub* stub,
                                         const v1::RegionTier& region, const std::string& policy) {
  v1::PlanTierRequest request;
  request.set_region_code(region.region_code());
  request.set_target_tier(region.next_tier());
  request.set_policy_id(policy);
  v1::TierPlan plan;
  grpc::ClientContext context;
  Authenticate(&context);
  context.set_deadline(Deadline(10));
  if (!stub->PlanTier(&context, request, &plan).ok()) return std::nullopt;
  return plan;
}

std::vector<Upgrade> CheapestUpgrades(v1::ClassifierService::Stub* stub,
                                      const std::vector<v1::RegionTier>& all,
                                      const std::string& policy, size_t n) {
  std::vector<Upgrade> upgrades;
  for (const v1::RegionTier* region : UpgradeCandidates(all)) {
    std::optional<v1::TierPlan> plan = PlanNextTier(stub, *region, policy);
    if (plan && plan->reachable()) upgrades.push_back({region, *std::move(plan)});
  }
  auto key = [](const Upgrade& u) {
    return std::make_tuple(u.plan.yearly_cost_idr(), u.plan.total_people(),
                           u.region->region_code());
  };
  std::sort(upgrades.begin(), upgrades.end(),
            [&](const Upgrade& a, const Upgrade& b) { return key(a) < key(b); });
  if (upgrades.size() > n) upgrades.resize(n);
  return upgrades;
}

}  // namespace uhc::cli
