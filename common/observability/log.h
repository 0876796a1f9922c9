#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace uhc {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// One field of a log line, written from {"key", value}: strings are quoted and escaped,
// integers, doubles and bools are written as JSON numbers and booleans. A NaN or infinite
// double is written as the string "NaN", "+Inf" or "-Inf" (JSON has no such numbers).
// The key must outlive the Log call (it is a literal in practice).
struct LogField {
  LogField(absl::string_view k, absl::string_view v) : key(k), text(v), quoted(true) {}
  LogField(absl::string_view k, std::string_view v)
      : key(k), text(v.data(), v.size()), quoted(true) {}
  LogField(absl::string_view k, const std::string& v) : key(k), text(v), quoted(true) {}
  LogField(absl::string_view k, const char* v) : key(k), text(v), quoted(true) {}
  // Any pointer but a C string would otherwise log as `true`.
  LogField(absl::string_view k, const void* v) = delete;
  LogField(absl::string_view k, bool v) : key(k), text(v ? "true" : "false") {}
  template <typename Int,
            std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  LogField(absl::string_view k, Int v) : key(k), text(std::to_string(v)) {}
  LogField(absl::string_view k, double v);

  absl::string_view key;
  std::string text;
  bool quoted = false;
};

// Lines below this level are dropped. The default is kInfo.
void SetMinLogLevel(LogLevel level);

// Writes one JSON object per line to stderr:
//   {"ts":"2026-11-22T16:30:00.123Z","level":"info","msg":"...",<fields in order>}
// Thread-safe: each line goes out whole in one write(2) and lines never interleave.
// Control characters are escaped as \u00XX and invalid UTF-8 becomes U+FFFD, so every line is
// valid JSON whatever the input.
// Contract: callers never pass personal data (NIKs); this function does not inspect content.
void Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields = {});

inline void LogDebug(absl::string_view msg, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kDebug, msg, fields);
}
inline void LogInfo(absl::string_view msg, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, msg, fields);
}
inline void LogWarning(absl::string_view msg, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kWarning, msg, fields);
}
inline void LogError(absl::string_view msg, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, msg, fields);
}

// Tests: every line (with its trailing newline) goes to `sink` instead of stderr; nullptr
// restores stderr. The sink runs under the logging lock, so it must not log.
void SetLogSinkForTest(std::function<void(absl::string_view line)> sink);

}  // namespace uhc
