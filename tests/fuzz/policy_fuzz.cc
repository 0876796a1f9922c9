// libFuzzer: policy text parsed and validated; never crashes; a valid policy evaluates on
// extreme counts without overflow traps (UBSan) and yields one of its tiers or "none".
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/domain/plan.h"
#include "common/domain/policy.h"
#include "common/domain/policy_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<uhc::v1::PolicyConfig> policy = uhc::ParsePolicy(text, "fuzz.textproto");
  if (!policy.ok()) {
    if (std::string(policy.status().message()).rfind("fuzz.textproto", 0) != 0) std::abort();
    return 0;
  }
  uhc::RegionCounts counts;
  counts.population = 300000000;
  counts.participants = {0, 100000000, 50000000, 90000000, 40000000, 2000000};
  counts.active = {0, 90000000, 50000000, 80000000, 10000000, 1000000};
  counts.uhc_prioritas = true;
  counts.dues_paid_through = 202512;
  uhc::v1::RegionTier tier;
  uhc::EvaluatePolicy(*policy, counts, &tier);
  if (tier.tier() != uhc::kNoTier && uhc::TierIndex(*policy, tier.tier()) < 0) std::abort();
  uhc::RegionCounts small;
  small.population = 1000;
  small.participants = {0, 900, 10, 0, 50, 5};
  small.active = {0, 800, 10, 0, 10, 1};
  for (int t = 0; t < policy->tiers_size(); ++t) (void)uhc::PlanTier(*policy, small, t);
  return 0;
}
