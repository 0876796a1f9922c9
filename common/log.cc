#include "absl/strings/string_view.h"
#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <mutex>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace uhc {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
std::mutex sink_mu;
std::function<void(absl::string_view)>* sink = nullptr;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

void SetMinLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }

void Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < min_level.load()) return;
  std::string line = absl::StrFormat(
      "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      LevelName(level), JsonEscape(msg));
  for (const LogField& f : fields) {
    absl::StrAppendFormat(&line, ",\"%s\":", JsonEscape(f.key));
    if (f.quoted) {
      absl::StrAppendFormat(&line, "\"%s\"", JsonEscape(f.text));
    } else {
      line += f.text;
    }
  }
  line += "}\n";
  std::lock_guard<std::mutex> lock(sink_mu);
  if (sink != nullptr) {
    (*sink)(line);
    return;
  }
  size_t written = 0;
  while (written < line.size()) {
    ssize_t n = write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
}

void SetLogSinkForTest(std::function<void(absl::string_view)> new_sink) {
  std::lock_guard<std::mutex> lock(sink_mu);
  delete sink;
  sink = new_sink ? new std::function<void(absl::string_view)>(std::move(new_sink)) : nullptr;
}

}  // namespace uhc
