#include <set>

#include "enrollment-svc/event_applier.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

const Region kA{"12.19", "Kabupaten Batu Bara", RegionLevel::kRegency, "12"};
const Region kB{"12.71", "Kota Medan", RegionLevel::kRegency, "12"};

PreparedEvent Event(char participant, ApplyOp op, const Region* region,
                    const Region* to = nullptr) {
  PreparedEvent e;
  e.op = op;
  e.region = region;
  e.to_region = to;
  e.key.field.fill(participant);
  return e;
}

TEST(PlanRoundsTest, StandaloneIsOneRoundWithEachEnterAfterItsLeave) {
  std::vector<PreparedEvent> events = {Event('p', ApplyOp::kEnroll, &kA),
                                       Event('p', ApplyOp::kLeave, &kA, &kB),
                                       Event('q', ApplyOp::kStatus, &kB)};
  events[2].rejected = true;
  auto rounds = PlanRounds(events, /*per_region=*/false, 1000);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0].size(), 3u) << "the rejected event is left out";
  EXPECT_EQ(rounds[0][1].op, ApplyOp::kLeave);
  EXPECT_EQ(rounds[0][2].op, ApplyOp::kEnter);
  EXPECT_EQ(rounds[0][2].region, &kB);
  EXPECT_FALSE(rounds[0][2].carry);
}

TEST(PlanRoundsTest, InAClusterAnEnterAndTheParticipantsLaterEventsFollowInLaterRounds) {
  std::vector<PreparedEvent> events = {
      Event('p', ApplyOp::kLeave, &kA, &kB),  // ENTER of B in round 1
      Event('p', ApplyOp::kStatus, &kB),      // after its ENTER: round 1
      Event('q', ApplyOp::kEnroll, &kB),      // another participant: round 0
  };
  auto rounds = PlanRounds(events, /*per_region=*/true, 1000);
  ASSERT_EQ(rounds.size(), 2u);
  ASSERT_EQ(rounds[0].size(), 2u);
  EXPECT_EQ(rounds[0][0].event, 0);
  EXPECT_EQ(rounds[0][1].event, 2);
  ASSERT_EQ(rounds[1].size(), 2u);
  EXPECT_EQ(rounds[1][0].op, ApplyOp::kEnter);
  EXPECT_TRUE(rounds[1][0].carry);
  EXPECT_EQ(rounds[1][1].event, 1);
}

TEST(PlanRoundsTest, InAClusterARoundHoldsAtMostOneFullCallPerRegion) {
  std::vector<PreparedEvent> events;
  for (int i = 0; i < 7; ++i)
    events.push_back(Event(static_cast<char>('a' + i), ApplyOp::kEnroll, &kA));
  events.push_back(Event('z', ApplyOp::kEnroll, &kB));
  auto rounds = PlanRounds(events, /*per_region=*/true, 3);
  ASSERT_EQ(rounds.size(), 3u);
  for (const auto& round : rounds) {
    int in_a = 0;
    for (const ApplyStep& s : round) in_a += s.region == &kA;
    EXPECT_LE(in_a, 3);
  }
  // Batch order within the region is kept across rounds.
  std::vector<int> order;
  for (const auto& round : rounds) {
    for (const ApplyStep& s : round) {
      if (s.region == &kA) order.push_back(s.event);
    }
  }
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(ParseApplyEngineTest, TheThreeNamesAndNothingElse) {
  EXPECT_EQ(ParseApplyEngine("function"), ApplyEngine::kFunction);
  EXPECT_EQ(ParseApplyEngine("module"), ApplyEngine::kModule);
  EXPECT_EQ(ParseApplyEngine("auto"), ApplyEngine::kAuto);
  for (const char* bad : {"", "Module", "lua", "auto "})
    EXPECT_EQ(ParseApplyEngine(bad), std::nullopt) << bad;
}

// kAuto: the module until Redis lacks it, then the function for the retry interval, then the
// module again; the fixed engines never change.
TEST(EngineChoiceTest, AutoTriesTheModuleAgainAfterTheRetryInterval) {
  const absl::Time t0 = absl::FromUnixSeconds(1764547200);
  EngineChoice automatic(ApplyEngine::kAuto, absl::Minutes(1));
  EXPECT_TRUE(automatic.falls_back());
  EXPECT_TRUE(automatic.UseModule(t0));
  EXPECT_TRUE(automatic.module_applies());
  automatic.ModuleMissing(t0);
  EXPECT_FALSE(automatic.module_applies());
  EXPECT_FALSE(automatic.UseModule(t0));
  EXPECT_FALSE(automatic.UseModule(t0 + absl::Seconds(59)));
  EXPECT_TRUE(automatic.UseModule(t0 + absl::Minutes(1)));
  automatic.ModuleMissing(t0 + absl::Minutes(1));  // still missing: another minute
  EXPECT_FALSE(automatic.UseModule(t0 + absl::Seconds(119)));
  automatic.ModuleServed();
  EXPECT_TRUE(automatic.module_applies());

  EngineChoice module(ApplyEngine::kModule), function(ApplyEngine::kFunction);
  EXPECT_FALSE(module.falls_back());
  EXPECT_FALSE(function.falls_back());
  EXPECT_TRUE(module.UseModule(t0));
  EXPECT_FALSE(function.UseModule(t0));
  EXPECT_TRUE(module.module_applies());
  EXPECT_FALSE(function.module_applies());
}

}  // namespace
}  // namespace uhc
