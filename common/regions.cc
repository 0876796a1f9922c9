#include "absl/strings/string_view.h"
#include "common/regions.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace uhc {
namespace {

// Splits one CSV line; fields may be double-quoted (with "" for a quote).
std::vector<std::string> SplitCsv(absl::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back().push_back(c);
    }
  }
  return fields;
}

bool IsTwoDigits(absl::string_view s) {
  return s.size() == 2 && std::isdigit(static_cast<unsigned char>(s[0])) &&
         std::isdigit(static_cast<unsigned char>(s[1]));
}

absl::Status LineError(absl::string_view file, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": ", what));
}

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  *ok = static_cast<bool>(in);
  return buffer.str();
}

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
  std::string best;
  int best_distance = 1 << 30;
  for (const std::string& option : options) {
    int d = EditDistance(query, option);
    if (d < best_distance) {
      best_distance = d;
      best = option;
    }
  }
  return best;
}

absl::StatusOr<RegionRegistry> RegionRegistry::FromCsv(absl::string_view provinces_csv,
                                                       absl::string_view regencies_csv) {
  RegionRegistry r;
  auto add = [&r](std::string code, std::string name, RegionLevel level, std::string parent) {
    auto region = std::make_unique<Region>(Region{code, std::move(name), level, std::move(parent)});
    const Region* ptr = region.get();
    r.storage_.push_back(std::move(region));
    return r.by_code_.emplace(std::move(code), ptr).second ? ptr : nullptr;
  };
  add("ID", "Indonesia", RegionLevel::kNation, "");

  int n = 0;
  for (absl::string_view line : absl::StrSplit(provinces_csv, '\n')) {
    ++n;
    if (absl::StripAsciiWhitespace(line).empty() || n == 1) continue;  // header
    std::vector<std::string> f = SplitCsv(line);
    if (f.size() != 2 || !IsTwoDigits(f[0]) || f[1].empty()) {
      return LineError("provinces.csv", n, "expected code (2 digits),name");
    }
    const Region* p = add(f[0], f[1], RegionLevel::kProvince, "ID");
    if (p == nullptr) return LineError("provinces.csv", n, "duplicate code " + f[0]);
    r.provinces_.push_back(p);
  }
  n = 0;
  for (absl::string_view line : absl::StrSplit(regencies_csv, '\n')) {
    ++n;
    if (absl::StripAsciiWhitespace(line).empty() || n == 1) continue;
    std::vector<std::string> f = SplitCsv(line);
    if (f.size() != 3 || f[0].size() != 5 || f[0][2] != '.' || !IsTwoDigits(f[0].substr(0, 2)) ||
        !IsTwoDigits(f[0].substr(3)) || f[2].empty()) {
      return LineError("regencies.csv", n, "expected code (NN.NN),province_code,name");
    }
    if (f[0].substr(0, 2) != f[1]) {
      return LineError("regencies.csv", n, "code " + f[0] + " is not in province " + f[1]);
    }
    auto province = r.by_code_.find(f[1]);
    if (province == r.by_code_.end()) {
      return LineError("regencies.csv", n, "unknown province " + f[1]);
    }
    const Region* k = add(f[0], f[2], RegionLevel::kRegency, f[1]);
    if (k == nullptr) return LineError("regencies.csv", n, "duplicate code " + f[0]);
    r.regencies_.push_back(k);
  }
  auto by_code = [](const Region* a, const Region* b) { return a->code < b->code; };
  std::sort(r.provinces_.begin(), r.provinces_.end(), by_code);
  std::sort(r.regencies_.begin(), r.regencies_.end(), by_code);
  for (const auto& [code, region] : r.by_code_) {
    if (code != "ID") r.all_.push_back(region);
  }
  std::sort(r.all_.begin(), r.all_.end(), by_code);
  r.all_.insert(r.all_.begin(), r.by_code_.at("ID"));
  return r;
}

absl::StatusOr<RegionRegistry> RegionRegistry::LoadFromDirectory(const std::string& dir) {
  bool ok_p = false, ok_r = false;
  std::string provinces = ReadFile(dir + "/provinces.csv", &ok_p);
  std::string regencies = ReadFile(dir + "/regencies.csv", &ok_r);
  if (!ok_p || !ok_r) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", dir, "/provinces.csv and ", dir, "/regencies.csv"));
  }
  return FromCsv(provinces, regencies);
}

const Region* RegionRegistry::Find(absl::string_view code) const {
  auto it = by_code_.find(code);
  return it == by_code_.end() ? nullptr : it->second;
}

std::vector<const Region*> RegionRegistry::Children(absl::string_view code) const {
  if (code == "ID") return provinces_;
  std::vector<const Region*> out;
  for (const Region* r : regencies_) {
    if (r->parent_code == code) out.push_back(r);
  }
  return out;
}

std::string RegionRegistry::Suggest(absl::string_view query) const {
  bool code_like = !query.empty() && (std::isdigit(static_cast<unsigned char>(query[0])) ||
                                      absl::AsciiStrToUpper(query) == "ID");
  std::string lowered = absl::AsciiStrToLower(query);
  std::string best;
  int best_distance = 1 << 30;
  for (const Region* r : all_) {
    int d;
    if (code_like) {
      d = EditDistance(query, r->code);
    } else {
      std::string name = absl::AsciiStrToLower(r->name);
      // Names containing the query win, the shortest first ("Banyuasin" is Kabupaten
      // Banyuasin, not Kabupaten Musi Banyuasin); otherwise the edit distance, after them.
      d = name.find(lowered) != std::string::npos
              ? static_cast<int>(name.size() - lowered.size())
              : 1000 + EditDistance(lowered, name);
    }
    if (d < best_distance) {
      best_distance = d;
      best = r->code;
    }
  }
  return best;
}

}  // namespace uhc
