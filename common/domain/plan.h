#pragma once

#include <string>

#include "common/domain/region_counts.h"
#include "uhc/v1/classifier.pb.h"
#include "uhc/v1/policy.pb.h"

namespace uhc {

// The fewest registrations by the pemda that make `counts` meet the criteria of `target_tier`
// under `policy` (`target_tier_index` indexes policy.tiers()). A registration is either an
// uninsured resident enrolled as active PBPU Pemda (participants, active and pemda_registered each
// +1) or an inactive PBPU mandiri / BP participant taken over as active PBPU Pemda (active and
// pemda_registered +1). Both pools are finite; when no split reaches the target the plan says so.
// Exact: feasibility is monotone in the number of people, so a binary search finds the minimum; for
// a given total, enrolling only what coverage needs and taking over the rest is the best split.
// Common requirements (UHC Prioritas, dues) cannot be met by registering people; they are listed
// in unmet_requirements.
v1::TierPlan PlanTier(const v1::PolicyConfig& policy, const RegionCounts& counts,
                      int target_tier_index);

// counts after enrolling `enroll` uninsured residents and taking over `take_over` inactive
// BP and PBPU mandiri participants (inactive BP first; which of the two does not change a metric).
RegionCounts ApplyPlan(const RegionCounts& counts, int64_t enroll, int64_t take_over);

}  // namespace uhc
