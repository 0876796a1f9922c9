#pragma once

#include <cstdint>
#include <string>

#include "common/domain/region_counts.h"
#include "uhc/v1/classifier.pb.h"
#include "uhc/v1/policy.pb.h"

namespace uhc {

// The tier id answered when no tier is met.
inline constexpr char kNoTier[] = "none";

// num / den in basis points, rounded down; 0 when den is 0.
int64_t BasisPoints(int64_t num, int64_t den);

// Exact inclusive threshold check num / den >= min_bp / 10000 by integer cross-multiplication.
// A zero denominator (population not set) never meets a threshold.
bool MeetsThreshold(int64_t num, int64_t den, int64_t min_bp);

// "2025-09" -> 202509; 0 if malformed.
int ParseYearMonth(const std::string& text);

// The denominator of activity under `policy`.
int64_t ActivityDenominator(const v1::PolicyConfig& policy, const RegionCounts& counts);

// Fills `metrics` from counts; activity_bp uses the policy's denominator.
void FillMetrics(const v1::PolicyConfig& policy, const RegionCounts& counts,
                 v1::RegionMetrics* metrics);

// Evaluates `policy` on `counts` and fills tier, tier_name, metrics, criteria, next_tier and
// next_tier_lacks of `out` (identity fields are the caller's). Pure; the policy must be valid
// (see ValidatePolicy).
void EvaluatePolicy(const v1::PolicyConfig& policy, const RegionCounts& counts,
                    v1::RegionTier* out);

// Index of the tier in policy.tiers() or -1.
int TierIndex(const v1::PolicyConfig& policy, const std::string& tier_id);

// Whether every criterion of one alternative holds (waivers applied).
bool GroupMet(const v1::PolicyConfig& policy, const v1::CriteriaGroup& group,
              const RegionCounts& counts);

// Whether the tier's criteria (not the common requirements) hold for counts.
bool TierCriteriaMet(const v1::PolicyConfig& policy, int tier_index, const RegionCounts& counts);

// The rule of a tier and of a requirement in words, e.g. "coverage >= 98.00% and activity
// >= 80.00%".
std::string DescribeTier(const v1::TierRule& tier);
std::string DescribeRequirement(const v1::Requirement& requirement);

// people x monthly cost x 12, in rupiah.
// ceil(min_bp * den / 10000): the people a ratio of min_bp basis points of `den` needs.
int64_t CeilBasisPointsOf(int64_t min_bp, int64_t den);

// people * monthly cost * 12, held at INT64_MAX rather than overflowing.
int64_t YearlyCostIdr(int64_t people, int64_t monthly_cost_idr);

}  // namespace uhc
