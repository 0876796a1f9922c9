#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/domain/text.h"

namespace uhc {

enum class RegionLevel { kNation, kProvince, kRegency };

struct Region {
  std::string code;  // "ID" for the nation, "12", "12.19"
  std::string name;  // "Indonesia", "Sumatera Utara", "Kabupaten Batu Bara"
  RegionLevel level = RegionLevel::kRegency;
  std::string parent_code;  // "" for the nation, "ID" for provinces, "12" for "12.19"
};

// The nation, 38 provinces and 514 kab/kota (idn-area-data). Immutable after construction, so
// safe to share between threads. Movable, not copyable: the lists and the index point into
// heap storage that a move hands over intact.
class RegionRegistry {
 public:
  // Parses provinces.csv (header "code,name") and regencies.csv (header
  // "code,province_code,name"); fields may be double-quoted ("" for a quote) and contain commas.
  // Checks that province codes are 2 digits, regency codes "NN.NN" inside an existing province,
  // and that no code repeats. Errors are InvalidArgument naming the file and line, e.g.
  // "regencies.csv:7: unknown province 13".
  static absl::StatusOr<RegionRegistry> FromCsv(absl::string_view provinces_csv,
                                                absl::string_view regencies_csv);

  RegionRegistry(const RegionRegistry&) = delete;
  RegionRegistry& operator=(const RegionRegistry&) = delete;
  RegionRegistry(RegionRegistry&&) = default;
  RegionRegistry& operator=(RegionRegistry&&) = default;

  const Region* Find(absl::string_view code) const;  // nullptr if unknown
  const Region& nation() const { return *all_.front(); }
  // Provinces for "ID", kab/kota for a province, empty otherwise. Ordered by code.
  std::vector<const Region*> Children(absl::string_view code) const;
  const std::vector<const Region*>& provinces() const { return provinces_; }
  const std::vector<const Region*>& regencies() const { return regencies_; }
  // "ID" first, then every code ascending ("11", "11.01", ..., "12", "12.01", ...).
  const std::vector<const Region*>& all() const { return all_; }

  // The known code closest to `query`, for "did you mean" messages: by edit distance on the
  // codes when the query looks like a code, otherwise by name, case-insensitively (names
  // containing the query first, shortest first; then edit distance, ignoring "Kabupaten "/"Kota ").
  // Empty when the query is no plausible code or name (longer than kMaxEchoBytes): the cost is
  // bounded, about 553 x 64 x 45 steps at most.
  std::string Suggest(absl::string_view query) const;

  // "unknown region code '99.99' (did you mean '19.99'?)": the code clipped, the suggestion by
  // code only (cheap: a few microseconds) and only for code-shaped queries of at most 8 bytes.
  // For request paths that may see many unknown codes in one call.
  std::string UnknownCode(absl::string_view code) const;
  // The same with a suggestion by code or name (Suggest), for one region named per call.
  std::string UnknownRegion(absl::string_view query) const;
  // NOT_FOUND, reason REGION_NOT_FOUND, with UnknownRegion's words and a ResourceInfo naming the
  // code (clipped): the one error for a region code that names no region, in every RPC.
  absl::Status RegionNotFound(absl::string_view code) const;

 private:
  RegionRegistry() = default;

  std::vector<std::unique_ptr<Region>> storage_;
  absl::flat_hash_map<std::string, const Region*> by_code_;
  absl::flat_hash_map<std::string, std::vector<const Region*>> children_;
  std::vector<const Region*> provinces_;
  std::vector<const Region*> regencies_;
  std::vector<const Region*> all_;
};

// Levenshtein distance, for suggestions.
int EditDistance(absl::string_view a, absl::string_view b);

// The option closest to `query` by edit distance (ties: the first); empty if there are none or
// `query` is longer than kMaxEchoBytes (no option is that long: the cost stays bounded).
std::string Closest(absl::string_view query, const std::vector<std::string>& options);

}  // namespace uhc
