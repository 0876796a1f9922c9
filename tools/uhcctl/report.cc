// uhcctl report: one self-contained HTML page of the national picture (maps of kab/kota and
// provinces coloured by tier, tier counts, the cheapest upgrades, the tables), readable on
// screen and on paper. No scripts, fonts or anything else fetched. uhcctl awards: who holds which
// tier as of a day or cut-off, as text, CSV or such a page.
#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"
#include "tools/uhcctl/map_svg.h"
#include "tools/uhcctl/national.h"

namespace uhc::cli {
namespace {

constexpr size_t kCheapest = 10;

// Tier fills, highest tier first: stops of viridis, which keep their order in lightness and stay
// apart under the common colour-vision deficiencies and in greyscale print.
constexpr const char* kTierFills[] = {"#3b528b", "#21918c", "#fde725", "#5ec962"};
constexpr char kSea[] = "#dbe8f3";
// 'none' is grey hatching with a dark outline: unlike the pale sea and every tier fill.
constexpr char kNoneLight[] = "#b0b0b0";
constexpr char kNoneDark[] = "#5f5f5f";

// How a tier is drawn: the CSS class of its legend swatch and its SVG paint.
class Palette {
 public:
  explicit Palette(const std::vector<TierLabel>& tiers) : tiers_(tiers) {}

  // "tier-0" for the highest tier, "tier-1" below it, ..., "tier-none".
  std::string TierClass(const std::string& tier) const {
    int rank = Rank(tier);
    return rank < 0 ? "tier-none" : absl::StrCat("tier-", rank);
  }
  std::string SwatchClass(const std::string& tier) const { return "sw " + TierClass(tier); }

  RegionStyle Style(const std::string& tier, const std::string& map_id) const {
    int rank = Rank(tier);
    if (rank < 0) return {absl::StrCat("url(#", map_id, "-none)"), kNoneDark, "tier-none", ""};
    return {Fill(rank), "#ffffff", TierClass(tier), ""};
  }

  // The hatch pattern 'none' fills refer to, for a map's <defs>.
  static std::string NoneHatch(const std::string& map_id) {
    return absl::StrCat("<pattern id=\"", map_id,
                        "-none\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
                        "patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"",
                        kNoneLight, "\"/><rect width=\"1.5\" height=\"4\" fill=\"", kNoneDark,
                        "\"/></pattern>");
  }

  std::string Css() const {
    std::string css;
    for (size_t i = 0; i + 1 < tiers_.size(); ++i) {
      absl::StrAppend(&css, ".sw.tier-", i, ",.bar .tier-", i, "{background:", Fill(i), "}");
    }
    absl::StrAppend(&css, ".sw.tier-none,.bar .tier-none{background:repeating-linear-gradient(",
                    "45deg,", kNoneDark, " 0 1.5px,", kNoneLight, " 1.5px 4px)}");
    return css;
  }

  std::string Label(const std::string& tier) const {
    for (const TierLabel& t : tiers_) {
      if (t.id == tier) return t.name.empty() ? t.id : t.name;
    }
    return tier;
  }

 private:
  // The tier's place in the policy, highest first; -1 for "none" (and anything unknown).
  int Rank(const std::string& tier) const {
    for (size_t i = 0; i + 1 < tiers_.size(); ++i) {
      if (tiers_[i].id == tier) return static_cast<int>(i);
    }
    return -1;
  }
  static const char* Fill(size_t rank) {
    return kTierFills[std::min(rank, std::size(kTierFills) - 1)];
  }

  const std::vector<TierLabel>& tiers_;
};

// The outlines in `dir`/`file`: NotFound when it is absent, InvalidArgument when malformed.
absl::StatusOr<std::vector<MapFeature>> LoadOutlines(const std::string& dir, const char* file) {
  std::string path = absl::StrCat(dir, "/", file);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<MapFeature>> features = ParseFeatureCollection(text.str());
  if (!features.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", features.status().message()));
  }
  return features;
}

std::string Figures(const v1::RegionMetrics& m) {
  return absl::StrCat("coverage ", Percent(m.coverage_bp()), ", activity ",
                      Percent(m.activity_bp()), ", pemda share ", Percent(m.pemda_share_bp()));
}

std::string Map(const std::vector<MapFeature>& features, const std::vector<v1::RegionTier>& all,
                v1::RegionLevel level, const Palette& palette, const std::string& id,
                const std::string& label, const std::string& path_class) {
  std::map<std::string, RegionStyle> styles;
  for (const v1::RegionTier& t : all) {
    if (t.level() != level) continue;
    RegionStyle style = palette.Style(t.tier(), id);
    style.title = absl::StrCat(t.region_name(), " (", t.region_code(), ")\n",
                               palette.Label(t.tier()), "\n", Figures(t.metrics()));
    styles[t.region_code()] = std::move(style);
  }
  MapOptions options;
  options.id = id;
  options.label = label;
  options.path_class = path_class;
  options.defs = Palette::NoneHatch(id);
  options.background = kSea;
  options.missing = {"#ffffff", "#8a8a8a", "no-data", "no data from the classifier"};
  return RenderMapSvg(features, styles, options);
}

std::string Legend(const std::vector<TierLabel>& tiers, const Palette& palette) {
  std::string html = "<ul class=\"legend\">";
  for (const TierLabel& t : tiers) {
    absl::StrAppend(&html, "<li><span class=\"", palette.SwatchClass(t.id), "\"></span>",
                    XmlEscape(palette.Label(t.id)), "</li>");
  }
  return html + "</ul>";
}

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

std::string UpgradesTable(const std::vector<Upgrade>& upgrades,
                          const std::map<std::string, std::string>& province_names,
                          const Palette& palette) {
  if (upgrades.empty()) return "<p class=\"note\">No kab/kota can reach its next tier.</p>";
  std::string html =
      "<table class=\"upgrades\"><thead><tr><th>#</th><th class=\"l\">kab/kota</th>"
      "<th class=\"l\">province</th><th class=\"l\">now</th><th class=\"l\">next</th>"
      "<th>people to register</th><th>yearly cost to the pemda</th>"
      "<th class=\"l\">also required</th></tr></thead>";
  for (size_t i = 0; i < upgrades.size(); ++i) {
    const v1::RegionTier& t = *upgrades[i].region;
    const v1::TierPlan& plan = upgrades[i].plan;
    auto province = province_names.find(t.parent_code());
    std::vector<std::string> also;
    for (const auto& r : plan.unmet_requirements()) also.push_back(r.description());
    absl::StrAppend(
        &html, "<tr><td>", i + 1, "</td><td class=\"l\">", XmlEscape(t.region_name()), " (",
        XmlEscape(t.region_code()), ")</td><td class=\"l\">",
        XmlEscape(province == province_names.end() ? t.parent_code() : province->second), "</td>",
        TierCell(t.tier(), palette), TierCell(t.next_tier(), palette), "<td title=\"enrol ",
        Thousands(plan.enroll_uninsured()), " uninsured, take over ",
        Thousands(plan.take_over_inactive()), " inactive\">", Thousands(plan.total_people()),
        "</td><td>", Rupiah(plan.yearly_cost_idr()), "</td><td class=\"l\">",
        XmlEscape(absl::StrJoin(also, "; ")), "</td></tr>");
  }
  return html + "</table>";
}

std::string ProvinceTable(const std::vector<v1::RegionTier>& all,
                          const std::vector<TierLabel>& tiers, const Palette& palette) {
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
  absl::StrAppend(&html, "<th>kab/kota</th><th class=\"l\">province's own tier</th></tr></thead>");
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
    absl::StrAppend(&html, "<td>", total, "</td>", TierCell(p.tier(), palette), "</tr>");
  }
  return html + "</table>";
}

std::string NationalTable(const std::vector<v1::RegionTier>& all, const Palette& palette) {
  std::string html =
      "<table class=\"national\"><thead><tr><th class=\"l\">code</th><th class=\"l\">region</th>"
      "<th class=\"l\">tier</th><th>population</th><th>coverage</th><th>activity</th>"
      "<th>pemda share</th><th class=\"l\">next tier</th></tr></thead>";
  for (const v1::RegionTier& t : all) {
    const char* row = t.level() == v1::REGION_LEVEL_REGENCY    ? "kabkota"
                      : t.level() == v1::REGION_LEVEL_PROVINCE ? "province"
                                                               : "nation";
    const auto& m = t.metrics();
    absl::StrAppend(&html, "<tr class=\"", row, "\"><td class=\"l\">", XmlEscape(t.region_code()),
                    "</td><td class=\"l\">", XmlEscape(t.region_name()), "</td>",
                    TierCell(t.tier(), palette), "<td>", Thousands(m.population()), "</td><td>",
                    Percent(m.coverage_bp()), "</td><td>", Percent(m.activity_bp()), "</td><td>",
                    Percent(m.pemda_share_bp()), "</td><td class=\"l\">", XmlEscape(t.next_tier()),
                    "</td></tr>");
  }
  return html + "</table>";
}

constexpr char kCss[] =
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

}  // namespace

int RunReport(const std::vector<std::string>& args) {
  Command cmd("report",
              "Writes one self-contained HTML page (no scripts, nothing fetched): maps of the\n"
              "kab/kota and provinces coloured by tier (hover for figures), the national tier\n"
              "counts, the ten cheapest upgrades in rupiah, kab/kota tiers by province and the\n"
              "national table.",
              "--html FILE [--policy ID] [--data-dir DIR]",
              {ClassifierAddressOption(),
               {"html", "FILE", "output file", ""},
               {"policy", "ID", "policy id", "the default"},
               {"data-dir", "DIR", "where regencies.geojson and provinces.geojson are", "data"}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (!cmd.Has("html")) return cmd.UsageError("--html FILE is required");
  // The outlines first, so a bad file fails before any RPC. Outside a checkout (the default dir
  // absent) the page still has every table and says why it has no map.
  std::string map_note;
  auto regencies = LoadOutlines(cmd.Get("data-dir"), "regencies.geojson");
  auto provinces = LoadOutlines(cmd.Get("data-dir"), "provinces.geojson");
  for (const auto* loaded : {&regencies, &provinces}) {
    if (loaded->ok() || !map_note.empty()) continue;
    if (!absl::IsNotFound(loaded->status()) || cmd.Has("data-dir")) {
      return cmd.UsageError(std::string(loaded->status().message()));
    }
    map_note = absl::StrCat("no map: ", loaded->status().message(), " (see --data-dir)");
    std::cerr << "uhcctl report: " << map_note << "\n";
  }

  std::string policy = cmd.Has("policy") ? cmd.Get("policy") : "";
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  std::vector<v1::RegionTier> all;
  if (!FetchAll(cmd, stub.get(), policy, absl::InfinitePast(), &all, &exit_code)) return exit_code;
  std::vector<TierLabel> tiers = PolicyTiers(stub.get(), policy);
  for (const v1::RegionTier& t : all) {  // tiers the policy listing missed still get a colour
    if (std::none_of(tiers.begin(), tiers.end(),
                     [&](const TierLabel& l) { return l.id == t.tier(); })) {
      tiers.insert(tiers.end() - 1, {t.tier(), t.tier_name()});
    }
  }
  Palette palette(tiers);
  std::map<std::string, std::string> province_names;
  const v1::RegionTier* nation = nullptr;
  bool stale = false;
  for (const v1::RegionTier& t : all) {
    if (t.level() == v1::REGION_LEVEL_PROVINCE) province_names[t.region_code()] = t.region_name();
    if (t.level() == v1::REGION_LEVEL_NATION) nation = &t;
    stale |= t.stale();
  }

  std::string html = absl::StrCat(
      "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\"><title>UHC tiers of Indonesia"
      "</title><style>",
      kCss, palette.Css(), "</style></head><body><h1>UHC tiers of Indonesia</h1><p>Policy ",
      XmlEscape(all.empty() ? policy : all[0].policy_id()), ", data as of ",
      all.empty() ? ""
                  : XmlEscape(absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                               absl::FromUnixSeconds(all[0].as_of().seconds()),
                                               absl::UTCTimeZone())),
      stale ? " (stale: Redis could not be read lately)" : "", "</p>");
  if (nation != nullptr) {
    const auto& m = nation->metrics();
    absl::StrAppend(&html, "<p>Indonesia: ", Thousands(m.population()), " residents, ",
                    Thousands(m.participants()), " participants; ", Figures(m), ".</p>");
  }
  absl::StrAppend(&html, "<h2 id=\"counts\">Tier counts</h2>", CountsTable(all, tiers, palette),
                  "<h2 id=\"map-kabkota-title\">Kab/kota by tier</h2>");
  if (map_note.empty()) {
    absl::StrAppend(&html, Legend(tiers, palette), "<figure>",
                    Map(*regencies, all, v1::REGION_LEVEL_REGENCY, palette, "map-kabkota",
                        "Kab/kota of Indonesia coloured by tier", "kabkota"),
                    "<figcaption>", regencies->size(),
                    " kab/kota; point at one for its tier and figures.</figcaption></figure>"
                    "<h2 id=\"map-province-title\">Provinces by their own tier</h2>",
                    Legend(tiers, palette), "<figure>",
                    Map(*provinces, all, v1::REGION_LEVEL_PROVINCE, palette, "map-province",
                        "Provinces of Indonesia coloured by their own tier", "province"),
                    "<figcaption>", provinces->size(),
                    " provinces, each evaluated on its own totals.</figcaption></figure>");
  } else {
    absl::StrAppend(&html, "<p class=\"note\">", XmlEscape(map_note), "</p>");
  }
  std::vector<Upgrade> upgrades = CheapestUpgrades(stub.get(), all, policy, kCheapest);
  absl::StrAppend(&html, "<h2 id=\"upgrades\">The ", upgrades.size(), " cheapest upgrades</h2>",
                  "<p class=\"note\">Kab/kota whose next tier registrations can reach, by the "
                  "pemda's yearly cost, then people.</p>",
                  UpgradesTable(upgrades, province_names, palette),
                  "<h2 id=\"provinces\">Kab/kota per tier, by province</h2>",
                  ProvinceTable(all, tiers, palette), "<h2 id=\"national\">National table</h2>",
                  NationalTable(all, palette),
                  "<p class=\"note\">Boundaries: simplified from wilayah_boundaries by Cahya DSN "
                  "(MIT); region codes and names: idn-area-data by Fityan (ODbL).</p>"
                  "</body></html>\n");
  std::ofstream out(cmd.Get("html"));
  out << html;
  out.close();
  if (!out) return cmd.UsageError("cannot write " + cmd.Get("html"));
  std::cout << "wrote " << cmd.Get("html") << " (" << all.size() << " regions)\n";
  return kExitOk;
}

namespace {

// The province of a kab/kota ("12.19" -> "12"): the basic view has no parent_code.
std::string ProvinceOf(const std::string& code) { return code.substr(0, code.find('.')); }

const char* LevelName(v1::RegionLevel level) {
  return level == v1::REGION_LEVEL_PROVINCE ? "province" : "regency";
}

// The awardees of one tier, kab/kota then provinces, each ordered by code.
struct Holders {
  std::vector<const v1::RegionTier*> regencies, provinces;
};

// Per tier id, who holds it; the nation (which holds no tier) is left out.
std::map<std::string, Holders> ByTier(const std::vector<v1::RegionTier>& all) {
  std::map<std::string, Holders> holders;
  for (const v1::RegionTier& t : all) {
    if (t.level() == v1::REGION_LEVEL_REGENCY) holders[t.tier()].regencies.push_back(&t);
    if (t.level() == v1::REGION_LEVEL_PROVINCE) holders[t.tier()].provinces.push_back(&t);
  }
  return holders;
}

void PrintAwardsTable(const std::vector<v1::RegionTier>& all, const std::vector<TierLabel>& tiers,
                      const Palette& palette,
                      const std::map<std::string, std::string>& province_names,
                      const std::string& title, std::ostream& out) {
  std::map<std::string, Holders> holders = ByTier(all);
  std::vector<int> widths;
  for (const TierLabel& t : tiers) {
    widths.push_back(std::max<int>(9, static_cast<int>(palette.Label(t.id).size()) + 2));
  }
  auto header = [&](const std::string& left) {
    std::string line = absl::StrFormat("%-22s", left);
    for (size_t i = 0; i < tiers.size(); ++i) {
      absl::StrAppend(&line, absl::StrFormat("%*s", widths[i], palette.Label(tiers[i].id)));
    }
    return line;
  };
  auto counts = [&](const std::string& left, const std::function<size_t(const Holders&)>& n) {
    std::string line = absl::StrFormat("%-22s", left);
    for (size_t i = 0; i < tiers.size(); ++i) {
      absl::StrAppend(&line, absl::StrFormat("%*d", widths[i], n(holders[tiers[i].id])));
    }
    return line;
  };
  size_t regencies = 0, provinces = 0;
  for (const auto& [tier, h] : holders)
    regencies += h.regencies.size(), provinces += h.provinces.size();
  out << title << "\n\n"
      << header("Tier counts") << "\n"
      << counts(absl::StrCat("  kab/kota (", regencies, ")"),
                [](const Holders& h) { return h.regencies.size(); })
      << "\n"
      << counts(absl::StrCat("  provinces (", provinces, ")"),
                [](const Holders& h) { return h.provinces.size(); })
      << "\n\n"
      << header("Kab/kota by province") << "  province's own tier\n";
  std::map<std::string, std::map<std::string, size_t>> by_province;  // province -> tier -> n
  for (const auto& [tier, h] : holders) {
    for (const v1::RegionTier* t : h.regencies) ++by_province[ProvinceOf(t->region_code())][tier];
  }
  for (const v1::RegionTier& p : all) {
    if (p.level() != v1::REGION_LEVEL_PROVINCE) continue;
    std::string line = absl::StrFormat("  %-3s%s ", p.region_code(), Fit(p.region_name(), 16));
    for (size_t i = 0; i < tiers.size(); ++i) {
      absl::StrAppend(&line,
                      absl::StrFormat("%*d", widths[i], by_province[p.region_code()][tiers[i].id]));
    }
    out << line << "  " << palette.Label(p.tier()) << "\n";
  }
  auto list = [&](const char* what, const std::vector<const v1::RegionTier*>& regions) {
    if (regions.empty()) {
      out << "  " << what << ": none\n";
      return;
    }
    out << "  " << what << " (" << regions.size() << "):\n";
    for (const v1::RegionTier* t : regions) {
      auto province = province_names.find(ProvinceOf(t->region_code()));
      const bool regency = t->level() == v1::REGION_LEVEL_REGENCY;
      out << absl::StrFormat(
          "    %-6s %s%s\n", t->region_code(), t->region_name(),
          regency && province != province_names.end() ? ", " + province->second : "");
    }
  };
  for (const TierLabel& t : tiers) {
    const Holders& h = holders[t.id];
    if (t.id == "none") {
      out << "\n"
          << palette.Label(t.id) << ": " << Count(h.regencies.size(), "kab/kota", "kab/kota")
          << " and " << Count(h.provinces.size(), "province", "provinces")
          << " (listed by --format csv and --html)\n";
      continue;
    }
    out << "\n" << palette.Label(t.id) << "\n";
    list("kab/kota", h.regencies);
    list("provinces", h.provinces);
  }
}

void PrintAwardsCsv(const std::vector<v1::RegionTier>& all, const std::vector<TierLabel>& tiers,
                    const Palette& palette, const std::string& policy, std::ostream& out) {
  std::map<std::string, Holders> holders = ByTier(all);
  out << "policy_id,as_of_date,cutoff_id,tier,tier_name,level,region_code,region_name,"
         "province_code,coverage_bp,activity_bp,pemda_share_bp\n";
  for (const TierLabel& tier : tiers) {
    const Holders& h = holders[tier.id];
    for (const auto* regions : {&h.regencies, &h.provinces}) {
      for (const v1::RegionTier* t : *regions) {
        const auto& m = t->metrics();
        out << policy << "," << t->as_of_date() << "," << t->cutoff_id() << "," << t->tier()
            << ",\"" << palette.Label(t->tier()) << "\"," << LevelName(t->level()) << ","
            << t->region_code() << ",\"" << t->region_name() << "\","
            << (t->level() == v1::REGION_LEVEL_REGENCY ? ProvinceOf(t->region_code()) : "") << ","
            << m.coverage_bp() << "," << m.activity_bp() << "," << m.pemda_share_bp() << "\n";
      }
    }
  }
}

// One tier's holders as a table, or "none".
std::string HoldersTable(const std::vector<const v1::RegionTier*>& regions, const char* what,
                         const std::map<std::string, std::string>& province_names) {
  if (regions.empty()) return absl::StrCat("<p class=\"note\">No ", what, ".</p>");
  const bool regency = regions[0]->level() == v1::REGION_LEVEL_REGENCY;
  std::string html =
      absl::StrCat("<table class=\"holders\"><caption>", regions.size(), " ", what,
                   "</caption><thead><tr><th class=\"l\">code</th><th class=\"l\">name</th>",
                   regency ? "<th class=\"l\">province</th>" : "",
                   "<th>coverage</th><th>activity</th><th>pemda share</th></tr></thead>");
  for (const v1::RegionTier* t : regions) {
    const auto& m = t->metrics();
    std::string province;
    if (regency) {
      auto it = province_names.find(ProvinceOf(t->region_code()));
      province = absl::StrCat("<td class=\"l\">",
                              XmlEscape(it == province_names.end() ? "" : it->second), "</td>");
    }
    absl::StrAppend(&html, "<tr><td class=\"l\">", XmlEscape(t->region_code()),
                    "</td><td class=\"l\">", XmlEscape(t->region_name()), "</td>", province, "<td>",
                    Percent(m.coverage_bp()), "</td><td>", Percent(m.activity_bp()), "</td><td>",
                    Percent(m.pemda_share_bp()), "</td></tr>");
  }
  return html + "</table>";
}

std::string AwardsHtml(const std::vector<v1::RegionTier>& all, const std::vector<TierLabel>& tiers,
                       const Palette& palette,
                       const std::map<std::string, std::string>& province_names,
                       const std::string& policy, const std::string& heading,
                       const std::string& recorded) {
  std::map<std::string, Holders> holders = ByTier(all);
  std::string title = absl::StrCat("UHC awards, ", policy, ", ", heading);
  std::string html = absl::StrCat(
      "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\"><title>",
      XmlEscape(title), "</title><style>", kCss, palette.Css(),
      "caption{text-align:left;font-weight:600;margin:.6em 0 .2em}"
      "summary{cursor:pointer;font-weight:600;margin:.6em 0}</style></head><body><h1>",
      XmlEscape(title), "</h1><p>Policy ", XmlEscape(policy), "; ", XmlEscape(heading), "; ",
      XmlEscape(recorded), ".</p><h2 id=\"counts\">Tier counts</h2>",
      CountsTable(all, tiers, palette), "<h2 id=\"provinces\">Kab/kota per tier, by province</h2>",
      ProvinceTable(all, tiers, palette));
  for (size_t i = 0; i < tiers.size(); ++i) {
    const TierLabel& t = tiers[i];
    const Holders& h = holders[t.id];
    std::string body = absl::StrCat(HoldersTable(h.regencies, "kab/kota", province_names),
                                    HoldersTable(h.provinces, "provinces", province_names));
    std::string label = absl::StrCat("<span class=\"", palette.SwatchClass(t.id), "\"></span>",
                                     XmlEscape(palette.Label(t.id)));
    if (t.id == "none") {  // not an award: listed for completeness, folded
      absl::StrAppend(&html, "<h2 id=\"tier-none\">", label, "</h2><details><summary>",
                      Count(h.regencies.size(), "kab/kota", "kab/kota"), " and ",
                      Count(h.provinces.size(), "province", "provinces"), "</summary>", body,
                      "</details>");
    } else {
      absl::StrAppend(&html, "<h2 id=\"tier-", i, "\">", label, "</h2>", body);
    }
  }
  return html + "</body></html>\n";
}

}  // namespace

int RunAwards(const std::vector<std::string>& args) {
  Command cmd(
      "awards",
      "What an awards committee publishes: the tier counts (kab/kota and provinces), the\n"
      "counts per province, and per tier the kab/kota and provinces holding it, as of the\n"
      "end of a day (WIB) or from a frozen cut-off (uhcctl cutoff create). As text, CSV\n"
      "(one row per region, the no-tier ones too) or one standalone HTML page.",
      "--policy ID (--as-of YYYY-MM-DD | --cutoff ID) [--format table|csv] [--html FILE]",
      {ClassifierAddressOption(),
       {"policy", "ID", "the policy awarded, e.g. uhc-awards-2026 (required)", ""},
       AsOfOption(),
       CutoffOption(),
       {"format", "F", "table or csv, on standard output", "table"},
       {"html", "FILE", "write the page to FILE (standard output: one line, or --format)", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (!cmd.positional().empty()) return cmd.UsageError("takes no arguments, only options");
  const std::string format = cmd.Get("format");
  if (format != "table" && format != "csv") {
    return cmd.UsageError(absl::StrCat("--format: '", format, "' is not table or csv"));
  }
  std::optional<PastQuery> past = GetPast(cmd);
  if (!past) return kExitUsage;
  if (past->as_of_date.empty() && past->cutoff_id.empty()) {
    return cmd.UsageError(
        "give --as-of YYYY-MM-DD or --cutoff ID: awards are for one fixed day (uhcctl cutoff "
        "list shows the cut-offs)");
  }
  if (cmd.Get("policy").empty()) {
    return cmd.UsageError("--policy ID is required: awards are for one policy (uhc-awards-2026)");
  }
  if (cmd.Has("html") && cmd.Get("html").empty()) return cmd.UsageError("--html FILE is empty");
  const std::string policy = cmd.Get("policy");
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  v1::ListRegionTiersRequest request;
  request.set_policy_id(policy);
  request.set_view(v1::REGION_TIER_VIEW_BASIC);  // code, name, level, tier and the indicators
  request.set_as_of_date(past->as_of_date);
  request.set_cutoff_id(past->cutoff_id);
  grpc::Status error;
  absl::StatusOr<std::vector<v1::RegionTier>> all = ListAll(stub.get(), request, &error);
  if (!all.ok()) return ReportRpcError(cmd, error);
  std::vector<TierLabel> tiers = PolicyTiers(stub.get(), policy);
  for (const v1::RegionTier& t : *all) {  // tiers the policy listing missed still get a row
    if (std::none_of(tiers.begin(), tiers.end(),
                     [&](const TierLabel& l) { return l.id == t.tier(); })) {
      tiers.insert(tiers.end() - 1, {t.tier(), t.tier()});
    }
  }
  Palette palette(tiers);
  std::map<std::string, std::string> province_names;
  for (v1::RegionTier& t : *all) {
    if (t.level() == v1::REGION_LEVEL_PROVINCE) province_names[t.region_code()] = t.region_name();
    // ProvinceTable reads parent_code, which the basic view leaves out.
    if (t.level() == v1::REGION_LEVEL_REGENCY) t.set_parent_code(ProvinceOf(t.region_code()));
  }
  const v1::RegionTier* first = all->empty() ? nullptr : &all->front();
  const std::string heading = first ? PastHeading(first->as_of_date(), first->cutoff_id())
                                    : PastHeading(past->as_of_date, past->cutoff_id);
  const bool to_stdout = !cmd.Has("html") || cmd.Has("format");
  if (to_stdout && format == "csv") {
    PrintAwardsCsv(*all, tiers, palette, policy, std::cout);
  } else if (to_stdout) {
    PrintAwardsTable(*all, tiers, palette, province_names,
                     absl::StrCat("UHC awards, ", policy, ", ", heading), std::cout);
  }
  if (!cmd.Has("html")) return kExitOk;
  std::string recorded;
  if (first != nullptr) {
    recorded = absl::StrCat(
        past->cutoff_id.empty() ? "figures as recorded at " : "frozen at ",
        absl::FormatTime("%Y-%m-%d %H:%M WIB", absl::FromUnixSeconds(first->as_of().seconds()),
                         absl::FixedTimeZone(7 * 3600)));
  }
  std::ofstream out(cmd.Get("html"));
  out << AwardsHtml(*all, tiers, palette, province_names, policy, heading, recorded);
  out.close();
  if (!out) return cmd.UsageError("cannot write " + cmd.Get("html"));
  const auto pemda = std::count_if(all->begin(), all->end(), [](const v1::RegionTier& t) {
    return t.level() != v1::REGION_LEVEL_NATION;
  });
  (to_stdout ? std::cerr : std::cout)
      << "wrote " << cmd.Get("html") << " (" << Count(pemda, "region", "regions") << ")\n";
  return kExitOk;
}

}  // namespace uhc::cli
