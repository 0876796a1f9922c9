#include "common/observability/log.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

using ::google::protobuf::Struct;
using ::google::protobuf::Value;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// Collects lines from the logger for the life of the object.
class LogCapture {
 public:
  LogCapture() {
    SetLogSinkForTest([this](absl::string_view line) { lines_.emplace_back(line); });
  }
  ~LogCapture() { SetLogSinkForTest(nullptr); }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;  // Appended under the logger's lock.
};

// A strict JSON parse (protobuf's), so a malformed line fails the test.
Struct ParseJsonLine(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  Struct object;
  const auto status = google::protobuf::util::JsonStringToMessage(line, &object);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << line;
  return object;
}

TEST(LogTest, WritesOneJsonObjectWithTypedFields) {
  LogCapture capture;
  const std::string owned = "owned";
  LogInfo("batch applied", {{"events", 12},
                            {"big", int64_t{9007199254740993}},
                            {"size", size_t{7}},
                            {"ratio", 0.25},
                            {"ok", true},
                            {"stale", false},
                            {"region", "12.19"},
                            {"owned", owned},
                            {"std_view", std::string_view("s")},
                            {"absl_view", absl::string_view("a")}});
  ASSERT_EQ(capture.lines().size(), 1u);
  const std::string& line = capture.lines()[0];
  EXPECT_THAT(line, MatchesRegex("\\{\"ts\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
                                 "[0-9]{2}\\.[0-9]{3}Z\",\"level\":\"info\",\"msg\":\"batch "
                                 "applied\",.*\\}\n"));
  EXPECT_THAT(line, HasSubstr(",\"events\":12,\"big\":9007199254740993,\"size\":7,"
                              "\"ratio\":0.25,\"ok\":true,\"stale\":false,\"region\":\"12.19\","));
  const Struct object = ParseJsonLine(line);
  const auto& fields = object.fields();
  EXPECT_EQ(fields.at("events").number_value(), 12);
  EXPECT_EQ(fields.at("ratio").number_value(), 0.25);
  EXPECT_EQ(fields.at("size").kind_case(), Value::kNumberValue);
  EXPECT_EQ(fields.at("ok").kind_case(), Value::kBoolValue);
  EXPECT_TRUE(fields.at("ok").bool_value());
  EXPECT_FALSE(fields.at("stale").bool_value());
  EXPECT_EQ(fields.at("region").string_value(), "12.19");
  EXPECT_EQ(fields.at("owned").string_value(), "owned");
  EXPECT_EQ(fields.at("std_view").string_value(), "s");
  EXPECT_EQ(fields.at("absl_view").string_value(), "a");
}

TEST(LogTest, EscapesQuotesNewlinesAndControlCharacters) {
  LogCapture capture;
  const std::string nasty = std::string("say \"hi\"\\\nnext\r\tx\x01y\x1f") + '\0' + "z\x7f";
  LogWarning(nasty, {{"key \"q\"", nasty}});
  ASSERT_EQ(capture.lines().size(), 1u);
  const std::string& line = capture.lines()[0];
  EXPECT_THAT(line, HasSubstr("\"level\":\"warning\""));
  EXPECT_THAT(line, HasSubstr("\"msg\":\"say \\\"hi\\\"\\\\\\nnext\\r\\tx\\u0001y\\u001f\\u0000z"
                              "\\u007f\""));
  const Struct object = ParseJsonLine(line);
  EXPECT_EQ(object.fields().at("msg").string_value(), nasty);
  EXPECT_EQ(object.fields().at("key \"q\"").string_value(), nasty);
}

TEST(LogTest, KeepsUtf8AndReplacesInvalidBytes) {
  LogCapture capture;
  const std::string bad = std::string("a\xff") + "b\xc3";  // Stray byte, cut-off sequence.
  LogError("Sumatera Utara \xe2\x80\x94 ok", {{"bad", bad},
                                              {"overlong", "\xe0\x80\xaf"},
                                              {"surrogate", "\xed\xa0\x80"},
                                              {"emoji", "\xf0\x9f\x8f\xa5"}});
  ASSERT_EQ(capture.lines().size(), 1u);
  const Struct object = ParseJsonLine(capture.lines()[0]);
  const std::string replacement = "\xef\xbf\xbd";
  EXPECT_EQ(object.fields().at("level").string_value(), "error");
  EXPECT_EQ(object.fields().at("msg").string_value(), "Sumatera Utara \xe2\x80\x94 ok");
  EXPECT_EQ(object.fields().at("bad").string_value(), "a" + replacement + "b" + replacement);
  EXPECT_EQ(object.fields().at("overlong").string_value(), replacement + replacement + replacement);
  EXPECT_EQ(object.fields().at("surrogate").string_value(),
            replacement + replacement + replacement);
  EXPECT_EQ(object.fields().at("emoji").string_value(), "\xf0\x9f\x8f\xa5");
}

TEST(LogTest, NonFiniteDoublesAreQuotedNamesAndOthersShortest) {
  LogCapture capture;
  LogInfo("m", {{"nan", std::nan("")},
                {"inf", std::numeric_limits<double>::infinity()},
                {"tenth", 0.1},
                {"huge", 1e300}});
  ASSERT_EQ(capture.lines().size(), 1u);
  EXPECT_THAT(capture.lines()[0],
              HasSubstr("\"nan\":\"NaN\",\"inf\":\"+Inf\",\"tenth\":0.1,\"huge\":1e+300}"));
  ParseJsonLine(capture.lines()[0]);
}

TEST(LogTest, DropsLinesBelowTheMinimumLevel) {
  LogCapture capture;
  LogDebug("hidden by default");
  SetMinLogLevel(LogLevel::kError);
  LogInfo("hidden");
  LogWarning("hidden");
  LogError("shown");
  SetMinLogLevel(LogLevel::kDebug);
  LogDebug("shown too");
  SetMinLogLevel(LogLevel::kInfo);
  ASSERT_EQ(capture.lines().size(), 2u);
  EXPECT_THAT(capture.lines()[0], HasSubstr("\"msg\":\"shown\""));
  EXPECT_THAT(capture.lines()[1], HasSubstr("\"level\":\"debug\""));
}

// The real stderr path, into a pipe as in a container: lines longer than PIPE_BUF from
// concurrent threads still come out whole.
TEST(LogTest, ConcurrentLinesOnStderrStayWhole) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  std::string text;
  std::thread reader([&text, read_fd = pipe_fds[0]] {
    char buffer[65536];
    for (ssize_t n; (n = read(read_fd, buffer, sizeof(buffer))) > 0;) text.append(buffer, n);
    close(read_fd);
  });
  const int saved_stderr = dup(STDERR_FILENO);
  ASSERT_GE(saved_stderr, 0);
  ASSERT_GE(dup2(pipe_fds[1], STDERR_FILENO), 0);
  close(pipe_fds[1]);
  const std::string padding(5000, 'p');
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &padding] {
      for (int i = 0; i < 500; ++i) LogInfo("line", {{"thread", t}, {"i", i}, {"pad", padding}});
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_GE(dup2(saved_stderr, STDERR_FILENO), 0);  // Closes the last write end: EOF.
  close(saved_stderr);
  reader.join();

  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2000u);
  std::vector<int> next_i(4, 0);
  for (const std::string& line : lines) {
    const Struct object = ParseJsonLine(line + "\n");
    const int t = static_cast<int>(object.fields().at("thread").number_value());
    ASSERT_TRUE(t >= 0 && t < 4) << line.substr(0, 200);
    EXPECT_EQ(object.fields().at("i").number_value(), next_i[t]++);
  }
}

}  // namespace
}  // namespace uhc
