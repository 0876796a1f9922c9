#include "common/domain/plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/domain/policy.h"

namespace uhc {
namespace {

// Inactive participants of a segment (never negative, whatever Redis holds).
int64_t Inactive(const RegionCounts& c, int segment) {
  return std::max<int64_t>(
      0, SaturatingSub(c.participants[segment], std::max<int64_t>(0, c.active[segment])));
}

int64_t TakeOverPool(const RegionCounts& c) {
  return SaturatingAdd(Inactive(c, kSegmentPbpuMandiri), Inactive(c, kSegmentBp));
}

int64_t UninsuredPool(const RegionCounts& c) {
  return std::max<int64_t>(0, SaturatingSub(c.population, c.Participants()));
}

// The fewest enrolments with which `n` registrations in total meet one alternative, or -1.
// For a fixed total only coverage grows with enrolments, and activity against participants
// shrinks with them (take-overs do not grow the denominator); every other metric depends only on
// the total. So the best split enrols exactly what coverage needs and takes over the rest.
int64_t EnrolmentsFor(const v1::PolicyConfig& policy, const v1::CriteriaGroup& group,
                      const RegionCounts& counts, int64_t n) {
  int64_t lo = std::max<int64_t>(0, n - TakeOverPool(counts));
  int64_t hi = std::min(n, UninsuredPool(counts));
  if (lo > hi) return -1;
  int64_t e = lo;
  for (const v1::Criterion& c : group.criterion()) {
    if (c.metric() == v1::METRIC_COVERAGE) {
      int64_t needed = CeilBasisPointsOf(c.min_bp(), counts.population);
      e = std::max(e, SaturatingSub(needed, counts.Participants()));
    }
  }
  if (e > hi) return -1;
  return GroupMet(policy, group, ApplyPlan(counts, e, n - e)) ? e : -1;
}

// The fewest enrolments with which `n` registrations meet the tier, or -1. Monotone in n: one
// more person either adds a take-over or, when take-overs are exhausted, an enrolment, and
// neither lowers any ratio (active <= participants).
int64_t TierEnrolmentsFor(const v1::PolicyConfig& policy, int target, const RegionCounts& counts,
                          int64_t n) {
  int64_t best = -1;
  for (const v1::CriteriaGroup& group : policy.tiers(target).alternative()) {
    int64_t e = EnrolmentsFor(policy, group, counts, n);
    if (e >= 0 && (best < 0 || e < best)) best = e;
  }
  return best;
}

}  // namespace

RegionCounts ApplyPlan(const RegionCounts& counts, int64_t enroll, int64_t take_over) {
  RegionCounts after = counts;
  int64_t added = SaturatingAdd(enroll, take_over);
  after.participants[kSegmentPbpuPemda] =
      SaturatingAdd(after.participants[kSegmentPbpuPemda], added);
  after.active[kSegmentPbpuPemda] = SaturatingAdd(after.active[kSegmentPbpuPemda], added);
  int64_t from_bp = std::min(take_over, Inactive(counts, kSegmentBp));
  after.participants[kSegmentBp] -= from_bp;
  after.participants[kSegmentPbpuMandiri] -= take_over - from_bp;
  return after;
}

v1::TierPlan PlanTier(const v1::PolicyConfig& policy, const RegionCounts& counts, int target) {
  v1::TierPlan plan;
  plan.set_policy_id(policy.id());
  plan.set_target_tier(policy.tiers(target).id());
  plan.set_monthly_cost_per_person_idr(policy.pemda_monthly_cost_idr());
  plan.set_uninsured_pool(UninsuredPool(counts));
  plan.set_take_over_pool(TakeOverPool(counts));
  v1::RegionTier now;
  EvaluatePolicy(policy, counts, &now);
  plan.set_current_tier(now.tier());
  for (const v1::CriterionResult& r : now.criteria()) {
    if (r.tier().empty() && !r.met()) *plan.add_unmet_requirements() = r;
  }

  int64_t max_people = SaturatingAdd(plan.uninsured_pool(), plan.take_over_pool());
  if (TierEnrolmentsFor(policy, target, counts, max_people) < 0) {
    plan.set_reachable(false);
    plan.set_reason(absl::StrCat(
        "out of reach by registrations: even enrolling all ", plan.uninsured_pool(),
        " uninsured residents and taking over all ", plan.take_over_pool(),
        " inactive PBPU mandiri / BP participants does not meet tier '", plan.target_tier(), "'"));
    FillMetrics(policy, ApplyPlan(counts, plan.uninsured_pool(), plan.take_over_pool()),
                plan.mutable_metrics_after());
    return plan;
  }
  int64_t lo = -1, hi = max_people;  // infeasible at lo (-1: nothing), feasible at hi
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    (TierEnrolmentsFor(policy, target, counts, mid) >= 0 ? hi : lo) = mid;
  }
  int64_t best_enroll = TierEnrolmentsFor(policy, target, counts, hi);
  plan.set_reachable(true);
  plan.set_enroll_uninsured(best_enroll);
  plan.set_take_over_inactive(hi - best_enroll);
  plan.set_total_people(hi);
  plan.set_yearly_cost_idr(YearlyCostIdr(hi, policy.pemda_monthly_cost_idr()));
  RegionCounts after = ApplyPlan(counts, best_enroll, hi - best_enroll);
  v1::RegionTier evaluated;
  EvaluatePolicy(policy, after, &evaluated);
  *plan.mutable_metrics_after() = evaluated.metrics();
  plan.set_tier_after(evaluated.tier());
  return plan;
}

}  // namespace uhc
