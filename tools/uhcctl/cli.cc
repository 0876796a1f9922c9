#include "tools/uhcctl/cli.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "common/domain/text.h"

namespace uhc::cli {

Command::Command(std::string name, std::string summary, std::string usage,
                 std::vector<Option> options)
    : name_(std::move(name)),
      summary_(std::move(summary)),
      usage_(std::move(usage)),
      options_(std::move(options)) {
  options_.push_back({"help", "", "show this help", ""});
}

bool Command::Parse(const std::vector<std::string>& args, int* exit_code) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const Option* option = nullptr;
    for (const Option& o : options_) {
      if (o.name == name) option = &o;
    }
    if (option == nullptr) {
      *exit_code =
          UsageError(absl::StrCat("unknown flag --", name, " (see uhcctl ", name_, " --help)"));
      return false;
    }
    if (name == "help") {
      std::cout << Help();
      *exit_code = kExitOk;
      return false;
    }
    if (!option->value.empty() && !inline_value) {
      if (i + 1 >= args.size()) {
        *exit_code = UsageError(absl::StrCat("--", name, " needs a value (", option->value, ")"));
        return false;
      }
      value = args[++i];
    }
    given_[name] = value;
  }
  return true;
}

std::string Command::Help() const {
  std::string text = absl::StrCat(summary_, "\n\nUsage: uhcctl ", name_, " ", usage_, "\n");
  if (!options_.empty()) absl::StrAppend(&text, "\nOptions:\n");
  for (const Option& o : options_) {
    std::string left = absl::StrCat("  --", o.name, o.value.empty() ? "" : " " + o.value);
    absl::StrAppend(&text, absl::StrFormat("%-28s %s", left, o.help));
    if (!o.default_value.empty()) absl::StrAppend(&text, " (default ", o.default_value, ")");
    absl::StrAppend(&text, "\n");
  }
  return text;
}

bool Command::Has(const std::string& name) const { return given_.count(name) > 0; }

bool Command::Declares(const std::string& name) const {
  return std::any_of(options_.begin(), options_.end(),
                     [&](const Option& o) { return o.name == name; });
}

std::string Command::Get(const std::string& name) const {
  if (auto it = given_.find(name); it != given_.end()) return it->second;
  for (const Option& o : options_) {
    if (o.name == name) return o.default_value;
  }
  return "";
}

std::optional<long long> Command::GetInt(const std::string& name, long long min,
                                         long long max) const {
  std::string text = Get(name);
  long long value = 0;
  if (text.empty()) {
    UsageError(absl::StrCat("--", name, " is required"));
    return std::nullopt;
  }
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    UsageError(absl::StrCat("--", name, ": '", text, "' is not an integer in ", min, "..", max));
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> Command::GetDate(const std::string& name) const {
  if (!Has(name)) return "";  // a date option's default is the server's, shown in words
  const std::string text = Get(name);
  if (!IsDate(text)) {
    UsageError(absl::StrCat("--", name, ": '", text, "' is not a date YYYY-MM-DD"));
    return std::nullopt;
  }
  return text;
}

int Command::UsageError(const std::string& message) const {
  std::cerr << "uhcctl " << name_ << ": " << message << "\n";
  return kExitUsage;
}

std::string Thousands(long long n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back('.');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string Count(long long n, const std::string& singular, const std::string& plural) {
  return Thousands(n) + " " + (n == 1 ? singular : plural);
}

std::string Fit(const std::string& text, size_t width) {
  // Byte offsets of each code point (continuation bytes are 10xxxxxx).
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (starts.size() <= width) return text + std::string(width - starts.size(), ' ');
  if (width == 0) return "";
  return text.substr(0, starts[width - 1]) + "\u2026";
}

bool IsDate(const std::string& text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i != 4 && i != 7 && !absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  const int year = std::stoi(text.substr(0, 4)), month = std::stoi(text.substr(5, 2)),
            day = std::stoi(text.substr(8, 2));
  // CivilDay normalizes (2025-02-30 is 2025-03-02): a real day comes back unchanged.
  const absl::CivilDay civil(year, month, day);
  return civil.year() == year && civil.month() == month && civil.day() == day;
}

Option AsOfOption() {
  return {"as-of", "YYYY-MM-DD",
          "answer as of the end of that day (WIB), by event time, late events included", ""};
}

Option CutoffOption() {
  return {"cutoff", "ID", "answer from frozen cut-off ID (uhcctl cutoff list); excludes --as-of",
          ""};
}

std::optional<PastQuery> GetPast(const Command& cmd) {
  std::optional<std::string> as_of = cmd.GetDate("as-of");
  if (!as_of) return std::nullopt;
  PastQuery past;
  past.as_of_date = *as_of;
  past.cutoff_id = cmd.Get("cutoff");
  if (cmd.Has("cutoff") && past.cutoff_id.empty()) {
    cmd.UsageError("--cutoff is empty (uhcctl cutoff list shows the cut-offs)");
    return std::nullopt;
  }
  if (!past.as_of_date.empty() && !past.cutoff_id.empty()) {
    cmd.UsageError("give --as-of or --cutoff, not both: a cut-off has its own date");
    return std::nullopt;
  }
  return past;
}

std::string PastHeading(const std::string& as_of_date, const std::string& cutoff_id) {
  if (!cutoff_id.empty()) {
    return absl::StrCat("cut-off ", Printable(cutoff_id),
                        as_of_date.empty() ? "" : absl::StrCat(" (as of ", as_of_date, ")"));
  }
  if (!as_of_date.empty()) return absl::StrCat("as of ", as_of_date, " (end of day, WIB)");
  return "";
}

std::string Sparkline(const std::vector<long long>& values, size_t width) {
  static constexpr const char* kBlocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                            "\u2585", "\u2586", "\u2587", "\u2588"};
  if (values.empty() || width == 0) return "";
  std::vector<double> marks;
  const size_t n = values.size();
  const size_t columns = std::min(n, width);
  for (size_t c = 0; c < columns; ++c) {
    const size_t begin = c * n / columns, end = (c + 1) * n / columns;
    double sum = 0;
    for (size_t i = begin; i < end; ++i) sum += static_cast<double>(values[i]);
    marks.push_back(sum / static_cast<double>(end - begin));
  }
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const double min = static_cast<double>(*lo), range = static_cast<double>(*hi - *lo);
  std::string line;
  for (double mark : marks) {
    const int level = range == 0 ? 3 : static_cast<int>((mark - min) / range * 7 + 0.5);
    line += kBlocks[std::clamp(level, 0, 7)];
  }
  return line;
}

std::string TierId(const std::string& text) {
  std::string id = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (absl::StartsWith(id, "uhc "))
    id = std::string(absl::StripLeadingAsciiWhitespace(id.substr(4)));
  return id;
}

std::string Rupiah(long long amount) { return "Rp" + Thousands(amount); }

std::string Percent(long long bp) {
  const long long a = bp < 0 ? -bp : bp;
  return absl::StrFormat("%s%s,%02d%%", bp < 0 ? "-" : "", Thousands(a / 100), a % 100);
}

std::string Decimal(double x, int digits) {
  std::string text = absl::StrFormat("%.*f", digits, x < 0 ? -x : x);
  const size_t point = text.find('.');
  std::string out = Thousands(std::stoll(text.substr(0, point)));
  if (point != std::string::npos) out += "," + text.substr(point + 1);
  return (x < 0 ? "-" : "") + out;
}

}  // namespace uhc::cli
