#include <string>
#include <vector>

#include "enrollment-svc/event_applier.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

CallStep Step(const std::string& region) {
  CallStep s;
  s.region = region;
  return s;
}

TEST(GroupCallsTest, StandaloneIsRunsOfAtMostTheLimitInOrder) {
  std::vector<CallStep> steps;
  for (int i = 0; i < 7; ++i) steps.push_back(Step(i % 2 ? "12.19" : "12.71"));
  const auto calls = GroupCalls(steps, /*per_region=*/false, 3);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0], (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(calls[1], (std::vector<size_t>{3, 4, 5}));
  EXPECT_EQ(calls[2], (std::vector<size_t>{6}));
}

TEST(GroupCallsTest, InAClusterACallHoldsOneRegionAndAtMostTheLimit) {
  std::vector<CallStep> steps;
  for (int i = 0; i < 7; ++i) steps.push_back(Step("12.19"));
  steps.push_back(Step("12.71"));
  const auto calls = GroupCalls(steps, /*per_region=*/true, 3);
  ASSERT_EQ(calls.size(), 4u);
  size_t total = 0;
  for (const auto& call : calls) {
    EXPECT_LE(call.size(), 3u);
    for (size_t i : call) EXPECT_EQ(steps[i].region, steps[call[0]].region);
    total += call.size();
  }
  EXPECT_EQ(total, steps.size());
}

}  // namespace
}  // namespace uhc
