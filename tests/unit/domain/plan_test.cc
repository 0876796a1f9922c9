#include "common/domain/plan.h"

#include "common/config/files.h"
#include "common/domain/policy.h"
#include "common/domain/policy_set.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

const PolicySet& Policies() {
  static const PolicySet* set = [] {
    auto loaded = LoadPolicies(UHC_SOURCE_DIR "/config/policies");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new PolicySet(*std::move(loaded));
  }();
  return *set;
}

RegionCounts Region(int64_t population, int64_t pbi, int64_t pbi_active, int64_t pemda,
                    int64_t mandiri, int64_t mandiri_active, int64_t bp, int64_t bp_active) {
  RegionCounts c;
  c.population = population;
  c.participants = {0, pbi, pemda, 0, mandiri, bp};
  c.active = {0, pbi_active, pemda, 0, mandiri_active, bp_active};
  c.uhc_prioritas = true;
  c.dues_paid_through = 202509;
  return c;
}

// Brute force: does any split of `n` registrations meet the tier?
bool AnySplitMeets(const v1::PolicyConfig& policy, int tier, const RegionCounts& c, int64_t n,
                   int64_t uninsured, int64_t take_over) {
  for (int64_t e = 0; e <= n; ++e) {
    if (e <= uninsured && n - e <= take_over &&
        TierCriteriaMet(policy, tier, ApplyPlan(c, e, n - e))) {
      return true;
    }
  }
  return false;
}

TEST(PlanTest, MinimalAgainstBruteForceOnSmallRegions) {
  int checked = 0;
  for (const auto& [id, policy] : Policies().all()) {
    for (int tier = 0; tier < policy.tiers_size(); ++tier) {
      for (int64_t pop : {50, 97, 200}) {
        for (int64_t pbi = pop / 2; pbi <= pop; pbi += pop / 7) {
          for (int64_t mandiri : {0, 5, 20}) {
            RegionCounts c = Region(pop, pbi, pbi * 3 / 4, 0, mandiri, mandiri / 3, 3, 1);
            v1::TierPlan plan = PlanTier(policy, c, tier);
            int64_t uninsured = plan.uninsured_pool(), take = plan.take_over_pool();
            if (!plan.reachable()) {
              EXPECT_FALSE(AnySplitMeets(policy, tier, c, uninsured + take, uninsured, take));
              continue;
            }
            int64_t n = plan.total_people();
            EXPECT_EQ(n, plan.enroll_uninsured() + plan.take_over_inactive());
            EXPECT_TRUE(TierCriteriaMet(
                policy, tier, ApplyPlan(c, plan.enroll_uninsured(), plan.take_over_inactive())))
                << id << " tier " << tier << " pop " << pop;
            if (n > 0) {
              EXPECT_FALSE(AnySplitMeets(policy, tier, c, n - 1, uninsured, take))
                  << id << " tier " << tier << " pop " << pop << " n " << n;
            }
            EXPECT_EQ(plan.yearly_cost_idr(), n * 37800 * 12);
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(PlanTest, BatuBaraStyleCoverageGap) {
  // 100,000 residents, 95,070 participants: Pratama needs 98,000 participants (2,930 enrolments)
  // and 80,000 active.
  const v1::PolicyConfig& policy = *Policies().Find("uhc-awards-2026");
  RegionCounts c = Region(100000, 90000, 76000, 2070, 2000, 500, 1000, 200);
  c.active[kSegmentPbpuPemda] = 2070;
  v1::TierPlan plan = PlanTier(policy, c, TierIndex(policy, "pratama"));
  ASSERT_TRUE(plan.reachable()) << plan.reason();
  EXPECT_EQ(plan.enroll_uninsured(), 2930);
  EXPECT_EQ(plan.current_tier(), "none");
  EXPECT_EQ(plan.tier_after(), "pratama");
  EXPECT_EQ(plan.metrics_after().coverage_bp(), 9800);
  EXPECT_GE(plan.metrics_after().activity_bp(), 8000);
}

TEST(PlanTest, UnreachableWhenPoolsAreTooSmall) {
  // Everyone insured, no inactive mandiri/BP: activity 50% cannot reach 80%.
  const v1::PolicyConfig& policy = *Policies().Find("uhc-awards-2026");
  RegionCounts c = Region(1000, 1000, 500, 0, 0, 0, 0, 0);
  v1::TierPlan plan = PlanTier(policy, c, TierIndex(policy, "pratama"));
  EXPECT_FALSE(plan.reachable());
  EXPECT_EQ(plan.uninsured_pool(), 0);
  EXPECT_EQ(plan.take_over_pool(), 0);
  EXPECT_FALSE(plan.reason().empty());
}

TEST(PlanTest, RequirementsArereportedNotPlanned) {
  const v1::PolicyConfig& policy = *Policies().Find("uhc-awards-2026");
  RegionCounts c = Region(1000, 990, 990, 0, 0, 0, 0, 0);
  c.uhc_prioritas = false;
  v1::TierPlan plan = PlanTier(policy, c, TierIndex(policy, "pratama"));
  EXPECT_TRUE(plan.reachable());
  EXPECT_EQ(plan.total_people(), 0);
  ASSERT_EQ(plan.unmet_requirements_size(), 1);
  EXPECT_EQ(plan.unmet_requirements(0).metric(), "uhc_prioritas");
}

}  // namespace
}  // namespace uhc
