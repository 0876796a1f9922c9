#include "absl/strings/string_view.h"
#include "common/log.h"

#include "gtest/gtest.h"

namespace uhc {
namespace {

TEST(LogTest, OneJsonObjectPerLineWithTypedFields) {
  std::string out;
  SetLogSinkForTest([&out](absl::string_view line) { out.append(line.data(), line.size()); });
  LogInfo("batch \"applied\"\nok", {{"events", 12}, {"ratio", 0.5}, {"ok", true},
                                    {"region", "12.19"}, {"ctl", "a\x01" "b"}});
  SetLogSinkForTest(nullptr);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "exactly one line";
  EXPECT_NE(out.find("\"level\":\"info\""), std::string::npos);
  EXPECT_NE(out.find("\"msg\":\"batch \\\"applied\\\"\\nok\""), std::string::npos);
  EXPECT_NE(out.find("\"events\":12"), std::string::npos);
  EXPECT_NE(out.find("\"ok\":true"), std::string::npos);
  EXPECT_NE(out.find("\"region\":\"12.19\""), std::string::npos);
  EXPECT_NE(out.find("\"ctl\":\"a\\u0001b\""), std::string::npos);
  EXPECT_EQ(out.rfind("{\"ts\":\"", 0), 0u);
}

TEST(LogTest, BelowTheMinimumLevelNothingIsWritten) {
  std::string out;
  SetLogSinkForTest([&out](absl::string_view line) { out.append(line.data(), line.size()); });
  SetMinLogLevel(LogLevel::kError);
  LogInfo("hidden");
  SetMinLogLevel(LogLevel::kInfo);
  SetLogSinkForTest(nullptr);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace uhc
