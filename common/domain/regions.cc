#include "common/domain/regions.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/domain/errors.h"

namespace uhc {
namespace {

struct CsvRow {
  int line = 0;  // 1-based, for messages
  std::vector<std::string> fields;
};

absl::Status LineError(absl::string_view file, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": ", what));
}

// Splits one CSV line (RFC 4180: a field may be double-quoted, with "" for a quote inside).
// Returns false with `problem` set on a stray or unterminated quote.
bool SplitCsvLine(absl::string_view line, std::vector<std::string>* fields, std::string* problem) {
  fields->assign(1, std::string());
  size_t i = 0;
  while (true) {
    std::string& field = fields->back();
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) {
          *problem = "unterminated quoted field";
          return false;
        }
        if (line[i] == '"' && i + 1 < line.size() && line[i + 1] == '"') {
          field.push_back('"');
          i += 2;
        } else if (line[i] == '"') {
          ++i;
          break;
        } else {
          field.push_back(line[i++]);
        }
      }
      if (i < line.size() && line[i] != ',') {
        *problem = "text after a closing quote";
        return false;
      }
    } else {
      while (i < line.size() && line[i] != ',') {
        if (line[i] == '"') {
          *problem = "quote inside an unquoted field";
          return false;
        }
        field.push_back(line[i++]);
      }
    }
    if (i >= line.size()) return true;
    ++i;  // the comma
    fields->emplace_back();
  }
}

// The data rows of a CSV file whose first line must be `header`. Blank lines are skipped.
absl::StatusOr<std::vector<CsvRow>> ReadCsv(absl::string_view file, absl::string_view text,
                                            const std::vector<std::string>& header) {
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");  // UTF-8 byte order mark
  std::vector<CsvRow> rows;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    absl::ConsumeSuffix(&line, "\r");
    if (line_number > 1 && absl::StripAsciiWhitespace(line).empty()) continue;
    CsvRow row;
    row.line = line_number;
    std::string problem;
    if (!SplitCsvLine(line, &row.fields, &problem)) return LineError(file, line_number, problem);
    if (line_number == 1) {
      if (row.fields != header) {
        return LineError(file, 1, absl::StrCat("header must be ", absl::StrJoin(header, ",")));
      }
      continue;
    }
    if (row.fields.size() != header.size()) {
      return LineError(file, line_number,
                       absl::StrCat("expected ", header.size(), " fields (",
                                    absl::StrJoin(header, ","), "), got ", row.fields.size()));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

bool IsDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), absl::ascii_isdigit);
}

bool IsProvinceCode(absl::string_view code) { return code.size() == 2 && IsDigits(code); }

bool IsRegencyCode(absl::string_view code) {
  return code.size() == 5 && code[2] == '.' && IsDigits(code.substr(0, 2)) &&
         IsDigits(code.substr(3));
}

bool ByCode(const Region* a, const Region* b) { return a->code < b->code; }

}  // namespace

int EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string Closest(absl::string_view query, const std::vector<std::string>& options) {
  if (query.size() > kMaxEchoBytes) return "";
  const std::string* best = nullptr;
  int best_distance = 0;
  for (const std::string& option : options) {
    int d = EditDistance(query, option);
    if (best == nullptr || d < best_distance) {
      best = &option;
      best_distance = d;
    }
  }
  return best == nullptr ? "" : *best;
}

absl::StatusOr<RegionRegistry> RegionRegistry::FromCsv(absl::string_view provinces_csv,
                                                       absl::string_view regencies_csv) {
  constexpr absl::string_view kProvincesFile = "provinces.csv";
  constexpr absl::string_view kRegenciesFile = "regencies.csv";
  absl::StatusOr<std::vector<CsvRow>> province_rows =
      ReadCsv(kProvincesFile, provinces_csv, {"code", "name"});
  if (!province_rows.ok()) return province_rows.status();
  absl::StatusOr<std::vector<CsvRow>> regency_rows =
      ReadCsv(kRegenciesFile, regencies_csv, {"code", "province_code", "name"});
  if (!regency_rows.ok()) return regency_rows.status();

  RegionRegistry r;
  // nullptr when the code is already taken.
  auto add = [&r](std::string code, absl::string_view name, RegionLevel level,
                  std::string parent) -> const Region* {
    if (r.by_code_.contains(code)) return nullptr;
    r.storage_.push_back(std::make_unique<Region>(
        Region{code, std::string(absl::StripAsciiWhitespace(name)), level, std::move(parent)}));
    const Region* region = r.storage_.back().get();
    r.by_code_.emplace(std::move(code), region);
    return region;
  };
  r.storage_.reserve(1 + province_rows->size() + regency_rows->size());
  const Region* nation = add("ID", "Indonesia", RegionLevel::kNation, "");

  for (const CsvRow& row : *province_rows) {
    const std::string& code = row.fields[0];
    if (!IsProvinceCode(code)) {
      return LineError(kProvincesFile, row.line,
                       absl::StrCat("province code '", code, "' is not 2 digits"));
    }
    if (absl::StripAsciiWhitespace(row.fields[1]).empty()) {
      return LineError(kProvincesFile, row.line, absl::StrCat("province ", code, " has no name"));
    }
    const Region* province = add(code, row.fields[1], RegionLevel::kProvince, nation->code);
    if (province == nullptr) {
      return LineError(kProvincesFile, row.line, absl::StrCat("duplicate code ", code));
    }
    r.provinces_.push_back(province);
  }

  for (const CsvRow& row : *regency_rows) {
    const std::string& code = row.fields[0];
    const std::string& province_code = row.fields[1];
    if (!IsRegencyCode(code)) {
      return LineError(kRegenciesFile, row.line,
                       absl::StrCat("regency code '", code, "' is not NN.NN"));
    }
    const Region* province = r.Find(province_code);
    if (province == nullptr || province->level != RegionLevel::kProvince) {
      return LineError(kRegenciesFile, row.line,
                       absl::StrCat("unknown province '", province_code, "'"));
    }
    if (code.compare(0, 2, province_code) != 0) {
      return LineError(kRegenciesFile, row.line,
                       absl::StrCat("code ", code, " is not in province ", province_code));
    }
    if (absl::StripAsciiWhitespace(row.fields[2]).empty()) {
      return LineError(kRegenciesFile, row.line, absl::StrCat("regency ", code, " has no name"));
    }
    const Region* regency = add(code, row.fields[2], RegionLevel::kRegency, province_code);
    if (regency == nullptr) {
      return LineError(kRegenciesFile, row.line, absl::StrCat("duplicate code ", code));
    }
    r.regencies_.push_back(regency);
  }

  std::sort(r.provinces_.begin(), r.provinces_.end(), ByCode);
  std::sort(r.regencies_.begin(), r.regencies_.end(), ByCode);
  r.children_[nation->code] = r.provinces_;
  for (const Region* regency : r.regencies_) r.children_[regency->parent_code].push_back(regency);
  r.all_.push_back(nation);
  std::merge(r.provinces_.begin(), r.provinces_.end(), r.regencies_.begin(), r.regencies_.end(),
             std::back_inserter(r.all_), ByCode);
  return r;
}

const Region* RegionRegistry::Find(absl::string_view code) const {
  auto it = by_code_.find(code);
  return it == by_code_.end() ? nullptr : it->second;
}

std::vector<const Region*> RegionRegistry::Children(absl::string_view code) const {
  auto it = children_.find(code);
  return it == children_.end() ? std::vector<const Region*>() : it->second;
}

std::string RegionRegistry::Suggest(absl::string_view query) const {
  if (query.size() > kMaxEchoBytes) return "";
  query = absl::StripAsciiWhitespace(query);
  const bool code_like = query.empty() || absl::ascii_isdigit(query[0]) ||
                         absl::EqualsIgnoreCase(query, nation().code);
  const std::string lowered = absl::AsciiStrToLower(query);
  const Region* best = nullptr;
  int best_score = 0;
  for (const Region* region : all_) {
    int score;
    if (code_like) {
      score = EditDistance(query, region->code);
    } else {
      const std::string name = absl::AsciiStrToLower(region->name);
      if (absl::StrContains(name, lowered)) {
        // "Banyuasin" is Kabupaten Banyuasin, not Kabupaten Musi Banyuasin: shortest wins.
        score = static_cast<int>(name.size() - lowered.size());
      } else {
        absl::string_view bare = name;
        if (!absl::ConsumePrefix(&bare, "kabupaten ")) absl::ConsumePrefix(&bare, "kota ");
        // Below every substring match, whose scores are at most a name's length.
        score = 1000 + std::min(EditDistance(lowered, name), EditDistance(lowered, bare));
      }
    }
    if (best == nullptr || score < best_score) {
      best = region;
      best_score = score;
    }
  }
  return best == nullptr ? "" : best->code;
}

namespace {

std::string UnknownMessage(absl::string_view noun, absl::string_view query,
                           const std::string& suggestion) {
  std::string message = absl::StrCat("unknown ", noun, " '", Clip(query), "'");
  if (!suggestion.empty()) absl::StrAppend(&message, " (did you mean '", suggestion, "'?)");
  return message;
}

}  // namespace

std::string RegionRegistry::UnknownCode(absl::string_view code) const {
  constexpr size_t kMaxCodeBytes = 8;  // "12.19" with room for a typo or two
  bool code_shaped = !code.empty() && code.size() <= kMaxCodeBytes &&
                     std::all_of(code.begin(), code.end(), [](char c) {
                       return absl::ascii_isdigit(c) || c == '.' || c == ' ';
                     });
  return UnknownMessage("region code", code, code_shaped ? Suggest(code) : "");
}

std::string RegionRegistry::UnknownRegion(absl::string_view query) const {
  return UnknownMessage("region", query, Suggest(query));
}

absl::Status RegionRegistry::RegionNotFound(absl::string_view code) const {
  return NotFound(reason::kRegionNotFound, {"uhc.v1.Region", Clip(code)}, UnknownRegion(code));
}

}  // namespace uhc
