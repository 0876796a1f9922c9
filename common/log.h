#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include "absl/strings/string_view.h"

namespace uhc {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// One field of a log line: a string, or a number / bool written unquoted.
struct LogField {
  LogField(absl::string_view k, absl::string_view v) : key(k), text(v), quoted(true) {}
  LogField(absl::string_view k, const char* v) : key(k), text(v), quoted(true) {}
  LogField(absl::string_view k, const std::string& v) : key(k), text(v), quoted(true) {}
  LogField(absl::string_view k, int v) : key(k), text(std::to_string(v)) {}
  LogField(absl::string_view k, int64_t v) : key(k), text(std::to_string(v)) {}
  LogField(absl::string_view k, uint64_t v) : key(k), text(std::to_string(v)) {}
  LogField(absl::string_view k, double v) : key(k), text(std::to_string(v)) {}
  LogField(absl::string_view k, bool v) : key(k), text(v ? "true" : "false") {}
  absl::string_view key;
  std::string text;
  bool quoted = false;
};

void SetMinLogLevel(LogLevel level);

// Writes one JSON object per line to stderr: {"ts":"...Z","level":"info","msg":"...",...}.
// Thread-safe (one write per line). Contract: callers never pass personal data (NIKs).
void Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, msg, f);
}
inline void LogWarning(absl::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarning, msg, f);
}
inline void LogError(absl::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, msg, f);
}

// Tests: receive every line instead of stderr (nullptr restores stderr).
void SetLogSinkForTest(std::function<void(absl::string_view)> sink);

// JSON string escaping (quotes, backslash, control characters).
std::string JsonEscape(absl::string_view text);

}  // namespace uhc
