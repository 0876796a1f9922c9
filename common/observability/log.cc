#include "common/observability/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace uhc {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

struct Output {
  absl::Mutex mu;
  std::function<void(absl::string_view)> sink ABSL_GUARDED_BY(mu);
};

// Never destroyed: detached threads may still log while static destructors run.
Output& GetOutput() {
  static Output* const output = new Output;
  return *output;
}

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
  return "error";
}

// The length of the well-formed UTF-8 sequence starting at text[i] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [text](size_t j) { return static_cast<unsigned char>(text[j]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  if (lead < 0x80) {
    return 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t j = i + 1; j < i + length; ++j) {
    if ((byte(j) & 0xC0) != 0x80) return 0;
  }
  const unsigned char second = byte(i + 1);
  if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) ||
      (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F)) {
    return 0;
  }
  return length;
}

// Appends text as a JSON string. Log text can hold bytes from requests or Redis replies, so
// bytes that are not UTF-8 become U+FFFD rather than making the line unparseable.
void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(text, i);
      if (length == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(text.data() + i, length);
        i += length;
      }
      continue;
    }
    if (c == '"') {
      out->append("\\\"");
    } else if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(out, "\\u", absl::Hex(c, absl::kZeroPad4));
    } else {
      out->push_back(static_cast<char>(c));
    }
    ++i;
  }
  out->push_back('"');
}

void WriteToStderr(absl::string_view line) {
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // Nowhere left to report a broken stderr.
    written += static_cast<size_t>(n);
  }
}

}  // namespace

LogField::LogField(absl::string_view k, double v) : key(k) {
  if (std::isnan(v)) {
    text = "NaN";
    quoted = true;
  } else if (std::isinf(v)) {
    text = v > 0 ? "+Inf" : "-Inf";
    quoted = true;
  } else {
    char buffer[32];
    const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), v);
    text.assign(buffer, result.ptr);
  }
}

void SetMinLogLevel(LogLevel level) {
  min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

void Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) return;
  std::string line = absl::StrCat(
      "{\"ts\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", LevelName(level), "\",\"msg\":");
  AppendJsonString(msg, &line);
  for (const LogField& field : fields) {
    line.push_back(',');
    AppendJsonString(field.key, &line);
    line.push_back(':');
    if (field.quoted) {
      AppendJsonString(field.text, &line);
    } else {
      line.append(field.text);
    }
  }
  line.append("}\n");
  // The lock keeps lines whole even when write(2) returns short.
  Output& output = GetOutput();
  absl::MutexLock lock(&output.mu);
  if (output.sink) {
    output.sink(line);
  } else {
    WriteToStderr(line);
  }
}

void SetLogSinkForTest(std::function<void(absl::string_view line)> sink) {
  Output& output = GetOutput();
  absl::MutexLock lock(&output.mu);
  output.sink = std::move(sink);
}

}  // namespace uhc
