#include "tools/uhcctl/report_html.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace uhc::cli {
namespace {

// Tier fills, highest tier first: stops of viridis, which keep their order in lightness and stay
// apart under the common colour-vision deficiencies and in greyscale print.
constexpr const char* kTierFills[] = {"#3b528b", "#21918c", "#fde725", "#5ec962"};
// 'none' is grey hatching with a dark outline: unlike the pale sea and every tier fill.
constexpr char kNoneLight[] = "#b0b0b0";
constexpr char kNoneDark[] = "#5f5f5f";

const char* Fill(size_t rank) { return kTierFills[std::min(rank, std::size(kTierFills) - 1)]; }

}  // namespace

std::string Palette::TierClass(const std::string& tier) const {
  int rank = Rank(tier);
  return rank < 0 ? "tier-none" : absl::StrCat("tier-", rank);
}

RegionStyle Palette::Style(const std::string& tier, const std::string& map_id) const {
  int rank = Rank(tier);
  if (rank < 0) return {absl::StrCat("url(#", map_id, "-none)"), kNoneDark, "tier-none", ""};
  return {Fill(rank), "#ffffff", TierClass(tier), ""};
}

std::string Palette::NoneHatch(const std::string& map_id) {
  return absl::StrCat("<pattern id=\"", map_id,
                      "-none\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
                      "patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"",
                      kNoneLight, "\"/><rect width=\"1.5\" height=\"4\" fill=\"", kNoneDark,
                      "\"/></pattern>");
}

std::string Palette::Css() const {
  std::string css;
  for (size_t i = 0; i + 1 < tiers_.size(); ++i) {
    absl::StrAppend(&css, ".sw.tier-", i, ",.bar .tier-", i, "{background:", Fill(i), "}");
  }
  absl::StrAppend(&css, ".sw.tier-none,.bar .tier-none{background:repeating-linear-gradient(",
                  "45deg,", kNoneDark, " 0 1.5px,", kNoneLight, " 1.5px 4px)}");
  return css;
}

std::string Palette::Label(const std::string& tier) const {
  for (const TierLabel& t : tiers_) {
    if (t.id == tier) return t.name.empty() ? t.id : t.name;
  }
  return tier;
}

int Palette::Rank(const std::string& tier) const {
  for (size_t i = 0; i + 1 < tiers_.size(); ++i) {
    if (tiers_[i].id == tier) return static_cast<int>(i);
  }
  return -1;
}

const char kPageCss[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h1{margin:0}"
    "h2{margin:1.6em 0 .4em;font-size:1.25em}p{margin:.3em 0}"
    "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;"
    "text-align:right}td.l,th.l{text-align:left}td.t{white-space:nowrap}th{background:#f4f4f4}"
    ".sw{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px;"
    "border:1px solid #555}.legend{list-style:none;padding:0;margin:.4em 0;display:flex;"
    "flex-wrap:wrap;gap:.4em 1.6em}figure{margin:.4em 0 1em}figcaption{color:#555}"
    "svg.map{display:block;box-sizing:border-box;width:100%;max-width:1300px;height:auto;"
    "border:1px solid #b8c7d6}"
    "svg.map path.tier-none{stroke-width:.6}svg.map path:hover{stroke:#000;stroke-width:1.2}"
    ".bar{display:flex;height:14px;width:320px;background:#f4f4f4}.bar div{height:14px}"
    "tr.province td{background:#e8eef5;font-weight:600;border-top:2px solid #7f93ab}"
    "tr.nation td{background:#d3deea;font-weight:700}.note{color:#555}"
    // Paper: the colours and hatching print as on screen, a map never splits across pages nor
    // leaves its heading and legend behind, and tables fit the width with their header repeated.
    "@media print{*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "body{margin:0;font-size:9pt}svg.map{max-width:100%}svg.map path:hover{stroke-width:.35}"
    "figure,table.counts,tr{break-inside:avoid;page-break-inside:avoid}"
    "h2,.legend{break-after:avoid;page-break-after:avoid}thead{display:table-header-group}"
    "table{width:100%}td,th{padding:1px 4px}.bar{width:110px}}"
    "@page{margin:12mm}";

std::string TierCell(const std::string& tier, const Palette& palette) {
  return absl::StrCat("<td class=\"l t\"><span class=\"", palette.SwatchClass(tier), "\"></span>",
                      XmlEscape(palette.Label(tier)), "</td>");
}

std::string CountsTable(const std::vector<v1::RegionTier>& all, const std::vector<TierLabel>& tiers,
                        const Palette& palette) {
  std::map<std::string, int> regencies, provinces;
  int regency_total = 0, province_total = 0;
  for (const v1::RegionTier& t : all) {
    if (t.level() == v1::REGION_LEVEL_REGENCY) ++regencies[t.tier()], ++regency_total;
    if (t.level() == v1::REGION_LEVEL_PROVINCE) ++provinces[t.tier()], ++province_total;
  }
  std::string html = "<table class=\"counts\"><thead><tr><th class=\"l\"></th>";
  for (const TierLabel& t : tiers) {
    absl::StrAppend(&html, "<th><span class=\"", palette.SwatchClass(t.id), "\"></span>",
                    XmlEscape(palette.Label(t.id)), "</th>");
  }
  absl::StrAppend(&html, "</tr></thead><tr><td class=\"l\">kab/kota (", regency_total, ")</td>");
  for (const TierLabel& t : tiers) absl::StrAppend(&html, "<td>", regencies[t.id], "</td>");
  absl::StrAppend(&html, "</tr><tr><td class=\"l\">provinces (", province_total, ")</td>");
  for (const TierLabel& t : tiers) absl::StrAppend(&html, "<td>", provinces[t.id], "</td>");
  return html + "</tr></table>";
}

std::string ProvinceTable(const std::vector<v1::RegionTier>& all,
                          const std::vector<TierLabel>& tiers, const Palette& palette,
                          const ExtraColumn* extra) {
  std::map<std::string, std::map<std::string, int>> by_province;  // province -> tier -> kab/kota
  for (const v1::RegionTier& t : all) {
    if (t.level() == v1::REGION_LEVEL_REGENCY) ++by_province[t.parent_code()][t.tier()];
  }
  std::string html =
      "<table class=\"provinces\"><thead><tr><th class=\"l\">province</th>"
      "<th class=\"l\">kab/kota by tier</th>";
  for (const TierLabel& t : tiers) {
    absl::StrAppend(&html, "<th>", XmlEscape(palette.Label(t.id)), "</th>");
  }
  absl::StrAppend(&html, "<th>kab/kota</th><th class=\"l\">province's own tier</th>",
                  extra ? absl::StrCat("<th class=\"l\">", extra->heading, "</th>") : "",
                  "</tr></thead>");
  for (const v1::RegionTier& p : all) {
    if (p.level() != v1::REGION_LEVEL_PROVINCE) continue;
    std::map<std::string, int>& counts = by_province[p.region_code()];
    int total = 0;
    for (const auto& [tier, n] : counts) total += n;
    absl::StrAppend(&html, "<tr><td class=\"l\">", XmlEscape(p.region_code()), " ",
                    XmlEscape(p.region_name()), "</td><td class=\"l\"><div class=\"bar\">");
    for (const TierLabel& t : tiers) {
      int n = counts[t.id];
      if (n == 0 || total == 0) continue;
      absl::StrAppend(&html, "<div class=\"", palette.TierClass(t.id), "\" title=\"",
                      XmlEscape(palette.Label(t.id)), ": ", n,
                      "\" style=\"width:", absl::StrFormat("%.1f", 100.0 * n / total),
                      "%\"></div>");
    }
    absl::StrAppend(&html, "</div></td>");
    for (const TierLabel& t : tiers) absl::StrAppend(&html, "<td>", counts[t.id], "</td>");
    absl::StrAppend(&html, "<td>", total, "</td>", TierCell(p.tier(), palette));
    if (extra != nullptr) {
      auto cell = extra->cells.find(p.region_code());
      absl::StrAppend(&html, "<td class=\"l\">", cell == extra->cells.end() ? "" : cell->second,
                      "</td>");
    }
    absl::StrAppend(&html, "</tr>");
  }
  return html + "</table>";
}

}  // namespace uhc::cli
