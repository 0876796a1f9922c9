#pragma once

// What the pages of `uhcctl report` and `uhcctl awards` share: how a tier is drawn, the page's
// CSS and the tables both show. HTML fragments returned here are trusted markup: every text from
// the classifier is escaped (XmlEscape) on the way in.
#include <map>
#include <string>
#include <vector>

#include "tools/uhcctl/map_svg.h"
#include "tools/uhcctl/national.h"

namespace uhc::cli {

// How a tier is drawn: the CSS class of its legend swatch and its SVG paint. Holds a reference
// to `tiers` (the policy's, highest first, "none" last), which must outlive it.
class Palette {
 public:
  explicit Palette(const std::vector<TierLabel>& tiers) : tiers_(tiers) {}

  // "tier-0" for the highest tier, "tier-1" below it, ..., "tier-none".
  std::string TierClass(const std::string& tier) const;
  std::string SwatchClass(const std::string& tier) const { return "sw " + TierClass(tier); }

  // A region of `tier` on the map `map_id`: 'none' refers to that map's NoneHatch.
  RegionStyle Style(const std::string& tier, const std::string& map_id) const;

  // The hatch pattern 'none' fills refer to, for a map's <defs>.
  static std::string NoneHatch(const std::string& map_id);

  // The swatch and bar colours of every tier.
  std::string Css() const;

  // "UHC Madya" for "madya"; the id itself when the policy gives no name or lacks the tier.
  std::string Label(const std::string& tier) const;

 private:
  // The tier's place in the policy, highest first; -1 for "none" (and anything unknown).
  int Rank(const std::string& tier) const;

  const std::vector<TierLabel>& tiers_;
};

// The CSS of both pages, for screen and print (the palette's colours come from Palette::Css).
extern const char kPageCss[];

// A table cell with the tier's swatch and name.
std::string TierCell(const std::string& tier, const Palette& palette);

// The tier counts of the kab/kota and of the provinces in `all`, a column per tier.
std::string CountsTable(const std::vector<v1::RegionTier>& all, const std::vector<TierLabel>& tiers,
                        const Palette& palette);

// A column a page adds to a table: its heading and, per region code, the cell's content
// (trusted markup; a region without one gets an empty cell).
struct ExtraColumn {
  std::string heading;
  std::map<std::string, std::string> cells;
};

// Per province: a bar and counts of its kab/kota by tier (they are found by parent_code), its
// kab/kota total and its own tier; then `extra`, when given.
std::string ProvinceTable(const std::vector<v1::RegionTier>& all,
                          const std::vector<TierLabel>& tiers, const Palette& palette,
                          const ExtraColumn* extra = nullptr);

}  // namespace uhc::cli
