// Plan and roll-up arithmetic at the int64 limits. This binary is built with
// -fsanitize=signed-integer-overflow and no recovery: any signed overflow in the domain core
// aborts the test instead of wrapping silently.
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/domain/plan.h"
#include "common/domain/policy.h"
#include "common/domain/policy_set.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

const PolicySet& Policies() {
  static const PolicySet* set = [] {
    // Read here: this binary links the checked domain only, not the config layer.
    std::vector<v1::PolicyConfig> policies;
    for (const auto& entry :
         std::filesystem::directory_iterator(UHC_SOURCE_DIR "/config/policies")) {
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      auto policy = ParsePolicy(text.str(), entry.path().filename().string());
      EXPECT_TRUE(policy.ok()) << policy.status();
      if (policy.ok()) policies.push_back(*policy);
    }
    auto loaded = PolicySet::FromPolicies(std::move(policies));
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new PolicySet(*std::move(loaded));
  }();
  return *set;
}

RegionCounts Counts(int64_t population, int64_t each_segment, int64_t active_each) {
  RegionCounts c;
  c.population = population;
  for (int s = 1; s < kSegmentSlots; ++s) {
    c.participants[s] = each_segment;
    c.active[s] = active_each;
  }
  c.uhc_prioritas = true;
  c.dues_paid_through = 202509;
  return c;
}

TEST(OverflowTest, PlansAtHugePopulationsAreExactOrHeldAtTheLimit) {
  for (const auto& [id, policy] : Policies().all()) {
    for (int64_t population : {int64_t{1} << 62, kMax, kMax - 1, int64_t{500'000'000}}) {
      for (int target = 0; target < policy.tiers_size(); ++target) {
        SCOPED_TRACE(id + " " + std::to_string(population) + " tier " + std::to_string(target));
        v1::TierPlan plan = PlanTier(policy, Counts(population, 1000, 500), target);
        EXPECT_GE(plan.uninsured_pool(), 0);
        EXPECT_GE(plan.take_over_pool(), 0);
        if (plan.reachable()) {
          EXPECT_GE(plan.total_people(), 0);
          EXPECT_GE(plan.enroll_uninsured(), 0);
          EXPECT_GE(plan.take_over_inactive(), 0);
          EXPECT_EQ(plan.total_people(), plan.enroll_uninsured() + plan.take_over_inactive());
          EXPECT_GE(plan.yearly_cost_idr(), 0) << "rupiah must not wrap";
          if (plan.total_people() <= kMax / 12 / policy.pemda_monthly_cost_idr()) {
            EXPECT_EQ(plan.yearly_cost_idr(),
                      plan.total_people() * policy.pemda_monthly_cost_idr() * 12);
          } else {
            EXPECT_EQ(plan.yearly_cost_idr(), kMax);
          }
        }
      }
    }
  }
}

TEST(OverflowTest, TheRealisticMaximumPlansExactly) {
  // 500 million residents (the admin limit) and nobody insured: Utama needs ceil(98% of them).
  const v1::PolicyConfig* policy = Policies().Find("");
  ASSERT_NE(policy, nullptr);
  v1::TierPlan plan = PlanTier(*policy, Counts(500'000'000, 0, 0), 0);
  ASSERT_TRUE(plan.reachable()) << plan.reason();
  EXPECT_GT(plan.total_people(), 400'000'000);
  EXPECT_EQ(plan.yearly_cost_idr(), plan.total_people() * policy->pemda_monthly_cost_idr() * 12);
}

TEST(OverflowTest, RollUpsAndRatiosSaturate) {
  RegionCounts sum;
  RegionCounts huge = Counts(kMax, kMax, kMax);
  sum.AddCounts(huge);
  sum.AddCounts(huge);
  EXPECT_EQ(sum.population, kMax);
  EXPECT_EQ(sum.Participants(), kMax);
  EXPECT_EQ(sum.Active(), kMax);
  EXPECT_EQ(BasisPoints(kMax, 1), kMax);
  EXPECT_EQ(BasisPoints(kMax, kMax), 10000);
  EXPECT_TRUE(MeetsThreshold(kMax, kMax, 10000));
  EXPECT_FALSE(MeetsThreshold(kMax - 1, kMax, 10000));
  EXPECT_EQ(YearlyCostIdr(kMax, 42000), kMax);
  EXPECT_EQ(CeilBasisPointsOf(9800, kMax),
            static_cast<int64_t>((absl::int128(kMax) * 9800 + 9999) / 10000));
  for (const auto& [id, policy] : Policies().all()) {
    v1::RegionTier tier;
    EvaluatePolicy(policy, sum, &tier);  // must not overflow
    for (const v1::CriterionResult& r : tier.criteria()) EXPECT_GE(r.shortfall_people(), -1) << id;
  }
}

}  // namespace
}  // namespace uhc
