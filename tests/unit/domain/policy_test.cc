#include "common/domain/policy.h"

#include <string>

#include "common/config/files.h"
#include "common/domain/policy_set.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

using ::testing::HasSubstr;

class PolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto set = LoadPolicies(UHC_SOURCE_DIR "/config/policies");
    ASSERT_TRUE(set.ok()) << set.status();
    policies_ = new PolicySet(*std::move(set));
  }
  static void TearDownTestSuite() { delete policies_; }

  static const v1::PolicyConfig& Policy(const std::string& id) {
    const v1::PolicyConfig* p = policies_->Find(id);
    EXPECT_NE(p, nullptr) << id;
    return *p;
  }

  // A region of `population` with `participants`, `active` (all active are PBI APBN except the
  // pemda ones) and `pemda` PBPU Pemda participants (all active), holding UHC Prioritas and dues.
  static RegionCounts Counts(int64_t population, int64_t participants, int64_t active,
                             int64_t pemda, bool prioritas = true, int dues = 202509) {
    RegionCounts c;
    c.population = population;
    c.participants[kSegmentPbpuPemda] = pemda;
    c.active[kSegmentPbpuPemda] = pemda;
    c.participants[1] = participants - pemda;
    c.active[1] = active - pemda;
    c.uhc_prioritas = prioritas;
    c.dues_paid_through = dues;
    return c;
  }

  static v1::RegionTier Evaluate(const std::string& policy, const RegionCounts& counts) {
    v1::RegionTier out;
    EvaluatePolicy(Policy(policy), counts, &out);
    return out;
  }

  static PolicySet* policies_;
};

PolicySet* PolicyTest::policies_ = nullptr;

TEST(RatioTest, BasisPointsRoundDown) {
  EXPECT_EQ(BasisPoints(8676, 10000), 8676);
  EXPECT_EQ(BasisPoints(867699, 1000000), 8676);
  EXPECT_EQ(BasisPoints(10018, 10000), 10018);  // coverage above 100% is kept
  EXPECT_EQ(BasisPoints(5, 0), 0);
}

TEST(RatioTest, ThresholdIsExactAndInclusive) {
  EXPECT_TRUE(MeetsThreshold(9800, 10000, 9800));
  EXPECT_FALSE(MeetsThreshold(9799, 10000, 9800));
  // 98% of 1,234,567 is 1,209,875.66: 1,209,876 passes, 1,209,875 fails.
  EXPECT_TRUE(MeetsThreshold(1209876, 1234567, 9800));
  EXPECT_FALSE(MeetsThreshold(1209875, 1234567, 9800));
  EXPECT_FALSE(MeetsThreshold(0, 0, 0));
}

TEST_F(PolicyTest, LoadsThreePoliciesWithAwards2026AsDefault) {
  EXPECT_EQ(policies_->all().size(), 3u);
  EXPECT_EQ(policies_->default_id(), "uhc-awards-2026");
  EXPECT_EQ(policies_->Find("")->id(), "uhc-awards-2026");
  EXPECT_EQ(policies_->Find("nope"), nullptr);
}

TEST_F(PolicyTest, ExactlyNinetyEightPercentPassesAndJustBelowFails) {
  // Pratama: coverage >= 98%, activity >= 80%. 4,900 of 5,000 is exactly 98.00%.
  EXPECT_EQ(Evaluate("uhc-awards-2026", Counts(5000, 4900, 4000, 0)).tier(), "pratama");
  // 9,799 of 10,000 is 97.99%.
  v1::RegionTier fails = Evaluate("uhc-awards-2026", Counts(10000, 9799, 8000, 0));
  EXPECT_EQ(fails.tier(), "none");
  EXPECT_EQ(fails.metrics().coverage_bp(), 9799);
  EXPECT_EQ(fails.next_tier(), "pratama");
  ASSERT_EQ(fails.next_tier_lacks_size(), 1);
  EXPECT_EQ(fails.next_tier_lacks(0).metric(), "coverage");
  EXPECT_EQ(fails.next_tier_lacks(0).shortfall_people(), 1);
}

TEST_F(PolicyTest, BanyuasinIsMadya) {
  // Seed 003: coverage 98%, activity 85%, pemda share >= 10%, UHC Prioritas, dues 2025-09.
  v1::RegionTier t = Evaluate("uhc-awards-2026", Counts(100000, 98000, 85000, 10000));
  EXPECT_EQ(t.tier(), "madya");
  EXPECT_EQ(t.next_tier(), "utama");
  EXPECT_EQ(t.metrics().coverage_bp(), 9800);
  EXPECT_EQ(t.metrics().activity_bp(), 8500);
  EXPECT_EQ(t.metrics().pemda_share_bp(), 1000);
}

TEST_F(PolicyTest, BantenIsPratama) {
  v1::RegionTier t = Evaluate("uhc-awards-2026", Counts(100000, 98000, 80000, 5000));
  EXPECT_EQ(t.tier(), "pratama");
  EXPECT_EQ(t.next_tier(), "madya");
}

TEST_F(PolicyTest, BatuBaraDecember2023IsUhcUnder2023Rule) {
  // 95.07% coverage; activity below 75% of participants.
  v1::RegionTier t = Evaluate("uhc-2023", Counts(10000, 9507, 6000, 0, false, 0));
  EXPECT_EQ(t.tier(), "uhc");
  EXPECT_EQ(t.next_tier(), "non-cut-off");
  EXPECT_EQ(t.metrics().coverage_bp(), 9507);
}

TEST_F(PolicyTest, KalimantanTengahAboveHundredPercentIsAtLeastPratama) {
  v1::RegionTier t = Evaluate("uhc-awards-2026", Counts(100000, 100180, 85240, 9000));
  EXPECT_EQ(t.metrics().coverage_bp(), 10018);
  EXPECT_NE(t.tier(), "none");
}

TEST_F(PolicyTest, UtamaWaivesPemdaShareAtFullActivity) {
  // Coverage 100%, activity 100%, pemda share 5% (< 18%): Utama by the waiver.
  v1::RegionTier t = Evaluate("uhc-awards-2026", Counts(10000, 10000, 10000, 500));
  EXPECT_EQ(t.tier(), "utama");
  bool saw_waiver = false;
  for (const auto& c : t.criteria()) {
    if (c.tier() == "utama" && c.metric() == "pemda_share") {
      EXPECT_TRUE(c.met());
      EXPECT_TRUE(c.waived());
      saw_waiver = true;
    }
  }
  EXPECT_TRUE(saw_waiver);
  // At 99.99% activity the waiver does not apply: Madya at most (share 5% < 10%: Pratama).
  EXPECT_EQ(Evaluate("uhc-awards-2026", Counts(10000, 10000, 9999, 500)).tier(), "pratama");
}

TEST_F(PolicyTest, MadyaSecondPathPemdaShareTwentyFiveActivityEighty) {
  EXPECT_EQ(Evaluate("uhc-awards-2026", Counts(10000, 9800, 8000, 2500)).tier(), "madya");
  EXPECT_EQ(Evaluate("uhc-awards-2026", Counts(10000, 9800, 8000, 2499)).tier(), "pratama");
}

TEST_F(PolicyTest, EveryTierNeedsPrioritasAndDues) {
  EXPECT_EQ(Evaluate("uhc-awards-2026", Counts(10000, 10000, 10000, 5000, false)).tier(), "none");
  v1::RegionTier late =
      Evaluate("uhc-awards-2026", Counts(10000, 10000, 10000, 5000, true, 202508));
  EXPECT_EQ(late.tier(), "none");
  EXPECT_EQ(late.next_tier(), "pratama");
  ASSERT_GE(late.next_tier_lacks_size(), 1);
  EXPECT_EQ(late.next_tier_lacks(0).metric(), "dues_paid_through");
  EXPECT_EQ(late.next_tier_lacks(0).shortfall_people(), -1);
}

TEST_F(PolicyTest, ActivityDenominatorFollowsThePolicy) {
  // 7,600 active of 9,600 participants in 10,000 residents: 79.16% of participants passes the
  // 2023 rule's 75%; 7,600 of 10,000 residents (76.00%) fails Prioritas' 80%.
  RegionCounts c = Counts(10000, 9600, 7600, 0);
  v1::RegionTier old_rule = Evaluate("uhc-2023", c);
  EXPECT_EQ(old_rule.metrics().activity_bp(), 7916);
  EXPECT_EQ(old_rule.tier(), "non-cut-off");
  v1::RegionTier prioritas = Evaluate("uhc-prioritas-2025", Counts(10000, 9800, 7600, 0));
  EXPECT_EQ(prioritas.metrics().activity_bp(), 7600);
  EXPECT_EQ(prioritas.tier(), "none");
  // The reverse: 7,400 of 10,000 residents (74%) but 7,400 of 9,800 participants (75.51%).
  v1::RegionTier reverse = Evaluate("uhc-2023", Counts(10000, 9800, 7400, 0));
  EXPECT_EQ(reverse.tier(), "non-cut-off");
  EXPECT_EQ(Evaluate("uhc-prioritas-2025", Counts(10000, 9800, 7400, 0)).tier(), "none");
}

TEST_F(PolicyTest, ShortfallIsPeopleToTheThreshold) {
  // Coverage 95.07% of 10,000: Pratama needs 9,800, so 293 more.
  v1::RegionTier t = Evaluate("uhc-awards-2026", Counts(10000, 9507, 9000, 0));
  for (const auto& c : t.criteria()) {
    if (c.tier() == "pratama" && c.metric() == "coverage") {
      EXPECT_EQ(c.shortfall_people(), 293);
      EXPECT_FALSE(c.met());
    }
  }
}

TEST(BudgetTest, BatuBaraPlanCostsTwentyOneBillion) {
  EXPECT_EQ(YearlyCostIdr(46947, 37800), 21295159200);
}

TEST(PolicyLoaderTest, SyntaxErrorNamesFileAndLine) {
  auto p = ParsePolicy(
      "id: \"x\"\nactivity_denominator: ACTIVITY_DENOMINATOR_POPULATION\ntiers {\n  id: \"a\"\n  "
      "oops\n}\n",
      "broken.textproto");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("broken.textproto:6:"));
}

TEST(PolicyLoaderTest, UnknownCriterionNamesFileAndLine) {
  auto p = ParsePolicy(
      "id: \"x\"\nactivity_denominator: ACTIVITY_DENOMINATOR_POPULATION\ntiers {\n  id: \"a\"\n  "
      "alternative {\n"
      "    criterion { metric: LIFE_EXPECTANCY min_bp: 10 }\n  }\n}\n",
      "unknown.textproto");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("unknown.textproto:6:"));
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("LIFE_EXPECTANCY"));
  auto field = ParsePolicy("id: \"x\"\nminimum_wage: 3\n", "field.textproto");
  ASSERT_FALSE(field.ok());
  EXPECT_THAT(std::string(field.status().message()), HasSubstr("field.textproto:2:"));
}

TEST(PolicyLoaderTest, SemanticErrorsAreRefused) {
  EXPECT_FALSE(ParsePolicy("id: \"x\"\n", "f").ok());  // no denominator, no tiers
  auto empty_alt = ParsePolicy(
      "id: \"x\" activity_denominator: ACTIVITY_DENOMINATOR_POPULATION tiers { id: \"a\" "
      "alternative {} }",
      "f");
  ASSERT_FALSE(empty_alt.ok());
  EXPECT_THAT(std::string(empty_alt.status().message()), HasSubstr("alternative 0 is empty"));
  auto bad_month = ParsePolicy(
      "id: \"x\" activity_denominator: ACTIVITY_DENOMINATOR_POPULATION requirements { "
      "dues_paid_through: \"2025-13\" }"
      " tiers { id: \"a\" alternative { criterion { metric: METRIC_COVERAGE min_bp: 1 } } }",
      "f");
  EXPECT_FALSE(bad_month.ok());
}

}  // namespace
}  // namespace uhc
