#pragma once

#include <map>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace uhc {

enum class RegionLevel { kNation, kProvince, kRegency };

struct Region {
  std::string code;         // "ID", "12", "12.19"
  std::string name;         // "Indonesia", "Sumatera Utara", "Kabupaten Batu Bara"
  RegionLevel level = RegionLevel::kRegency;
  std::string parent_code;  // "" for the nation, "ID" for provinces, "12" for "12.19"
};

// The nation, 38 provinces and 514 kab/kota (idn-area-data). Immutable after loading; safe to
// share between threads. Movable, not copyable (lists hold pointers into its storage).
class RegionRegistry {
 public:
  // Parses provinces.csv ("code,name") and regencies.csv ("code,province_code,name"); names may
  // be double-quoted. Errors name the file and line.
  static absl::StatusOr<RegionRegistry> FromCsv(absl::string_view provinces_csv,
                                                absl::string_view regencies_csv);
  // Reads <dir>/provinces.csv and <dir>/regencies.csv (the only I/O here).
  static absl::StatusOr<RegionRegistry> LoadFromDirectory(const std::string& dir);

  RegionRegistry(RegionRegistry&&) = default;
  RegionRegistry& operator=(RegionRegistry&&) = default;

  const Region* Find(absl::string_view code) const;  // nullptr if unknown
  const Region& nation() const { return *all_.front(); }
  // Provinces of "ID", kab/kota of a province; empty otherwise. Ordered by code.
  std::vector<const Region*> Children(absl::string_view code) const;
  const std::vector<const Region*>& provinces() const { return provinces_; }
  const std::vector<const Region*>& regencies() const { return regencies_; }
  // "ID" first, then every code in ascending order ("11", "11.01", ..., "12", ...).
  const std::vector<const Region*>& all() const { return all_; }

  // The known code closest to `query` (edit distance on codes, or on names case-insensitively
  // when the query is not code-like), for "did you mean" messages.
  std::string Suggest(absl::string_view query) const;

 private:
  RegionRegistry() = default;
  std::vector<std::unique_ptr<Region>> storage_;
  absl::flat_hash_map<std::string, const Region*> by_code_;
  std::vector<const Region*> provinces_, regencies_, all_;
};

// Levenshtein distance, for suggestions.
int EditDistance(absl::string_view a, absl::string_view b);

// The option closest to `query` by edit distance (ties: the first); empty if no options.
std::string Closest(absl::string_view query, const std::vector<std::string>& options);

}  // namespace uhc
