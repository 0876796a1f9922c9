// uhcctl report: one self-contained HTML page of the national picture (maps of kab/kota and
// provinces coloured by tier, tier counts, the cheapest upgrades, the tables with each region's
// trend over 12 months), readable on screen and on paper. No scripts, fonts or anything else
// fetched.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"
#include "tools/uhcctl/map_svg.h"
#include "tools/uhcctl/national.h"
#include "tools/uhcctl/report_html.h"
#include "tools/uhcctl/trend_svg.h"

namespace uhc::cli {
namespace {

constexpr size_t kCheapest = 10;

// The sea behind the maps: paler than every tier fill and the grey of 'none'.
constexpr char kSea[] = "#dbe8f3";

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

std::string NationalTable(const std::vector<v1::RegionTier>& all, const Palette& palette,
                          const ExtraColumn& trends) {
  std::string html = absl::StrCat(
      "<table class=\"national\"><thead><tr><th class=\"l\">code</th><th class=\"l\">region</th>"
      "<th class=\"l\">tier</th><th>population</th><th>coverage</th><th>activity</th>"
      "<th>pemda share</th><th class=\"l\">next tier</th><th class=\"l\">",
      trends.heading, "</th></tr></thead>");
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
                    "</td><td class=\"l\">");
    auto trend = trends.cells.find(t.region_code());
    absl::StrAppend(&html, trend == trends.cells.end() ? "" : trend->second, "</td></tr>");
  }
  return html + "</table>";
}

// The trend columns: the three indicators at the last 11 month ends and now, each in its band.
constexpr int kTrendPoints = 12;
struct Indicator {
  const char* label;
  // Dark2 colours: apart from each other and from the tier fills.
  const char* stroke;
  int64_t (v1::RegionMetrics::*bp)() const;
};
constexpr Indicator kIndicators[] = {
    {"coverage", "#1b9e77", &v1::RegionMetrics::coverage_bp},
    {"activity", "#d95f02", &v1::RegionMetrics::activity_bp},
    {"pemda share", "#7570b3", &v1::RegionMetrics::pemda_share_bp},
};

// The last days of the `n` - 1 months before today's (WIB), then today: uhcctl trend's points.
std::vector<std::string> MonthEnds(int n) {
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::FixedTimeZone(7 * 3600));
  std::vector<std::string> days;
  for (int back = n - 1; back >= 1; --back) {
    const absl::CivilDay last = absl::CivilDay(absl::CivilMonth(today) - back + 1) - 1;
    days.push_back(absl::FormatCivilTime(last));
  }
  days.push_back(absl::FormatCivilTime(today));
  return days;
}

// Per region code, the indicators at each of `days` as a small SVG. The month ends come from one
// ListRegionTiers call each (the basic view carries the indicators), not a GetRegionTrend per
// region; today's point is `now`, the figures the rest of the page shows. A day whose listing
// fails is a gap, with a warning.
ExtraColumn TrendColumn(v1::ClassifierService::Stub* stub, const std::string& policy,
                        const std::vector<v1::RegionTier>& now,
                        const std::vector<std::string>& days) {
  using Series = std::vector<std::optional<int64_t>>;
  std::map<std::string, std::vector<Series>> series;  // code -> indicator -> day
  auto add = [&](const v1::RegionTier& t, size_t day) {
    std::vector<Series>& lines = series[t.region_code()];
    lines.resize(std::size(kIndicators), Series(days.size()));
    // A range-for, not an index into kIndicators: GCC 12 under ASan warns (wrongly) that the
    // index may be uninitialized.
    size_t i = 0;
    for (const Indicator& indicator : kIndicators) lines[i++][day] = (t.metrics().*indicator.bp)();
  };
  const bool tty = isatty(STDERR_FILENO);
  const absl::Time start = absl::Now();
  bool progress = false;
  for (size_t day = 0; day + 1 < days.size(); ++day) {
    // A moment is a second: progress only on a terminal that waited that long.
    if (tty && absl::Now() - start > absl::Seconds(1)) {
      progress = true;
      std::cerr << "\ruhcctl report: trends, month end " << day + 1 << " of " << days.size() - 1
                << " (" << days[day] << ")" << std::flush;
    }
    v1::ListRegionTiersRequest request;
    request.set_policy_id(policy);
    request.set_view(v1::REGION_TIER_VIEW_BASIC);
    request.set_as_of_date(days[day]);
    grpc::Status error;
    absl::StatusOr<std::vector<v1::RegionTier>> past = ListAll(stub, request, &error);
    if (!past.ok()) {
      std::cerr << (progress ? "\n" : "") << "uhcctl report: no trend point for " << days[day]
                << ": " << error.error_message() << "\n";
      continue;
    }
    for (const v1::RegionTier& t : *past) add(t, day);
  }
  if (progress) std::cerr << "\n";
  for (const v1::RegionTier& t : now) add(t, days.size() - 1);

  ExtraColumn column;
  column.heading = absl::StrCat("trend, ", days.size(), " months<br>");
  for (const Indicator& indicator : kIndicators) {
    absl::StrAppend(&column.heading,
                    "<span class=\"k\"><span class=\"key\" style=\"border-color:", indicator.stroke,
                    "\"></span>", indicator.label, "</span>");
  }
  for (const auto& [code, values] : series) {
    std::vector<TrendLine> lines;
    TrendSvgOptions options;
    options.title =
        absl::StrCat("month ends from ", days.front(), ", then now (", days.back(), "):");
    for (size_t i = 0; i < values.size(); ++i) {
      lines.push_back({kIndicators[i].stroke, values[i]});
      auto present = [](const std::optional<int64_t>& v) { return v.has_value(); };
      auto first = std::find_if(values[i].begin(), values[i].end(), present);
      auto last = std::find_if(values[i].rbegin(), values[i].rend(), present);
      absl::StrAppend(&options.title, "\n", kIndicators[i].label, " ", Percent(**first), " \u2192 ",
                      Percent(**last));
    }
    column.cells[code] = RenderTrendSvg(lines, options);
  }
  return column;
}

// The trend column's key (a short line in each indicator's colour, in its heading).
constexpr char kTrendCss[] =
    "svg.trend{display:block}.k{white-space:nowrap;margin-right:.6em}.key{display:inline-block;"
    "width:10px;margin-right:3px;border-top:2px solid;vertical-align:middle}";

}  // namespace

int RunReport(const std::vector<std::string>& args) {
  Command cmd("report",
              "Writes one self-contained HTML page (no scripts, nothing fetched): maps of the\n"
              "kab/kota and provinces coloured by tier (hover for figures), the national tier\n"
              "counts, the ten cheapest upgrades in rupiah, kab/kota tiers by province and the\n"
              "national table, each region with a sparkline of its coverage, activity and pemda\n"
              "share over the last 12 months (a listing as of each month end: a few seconds).",
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
      kPageCss, kTrendCss, palette.Css(),
      "</style></head><body><h1>UHC tiers of Indonesia</h1><p>Policy ",
      XmlEscape(all.empty() ? policy : all[0].policy_id()), ", data as of ",
      all.empty()
          ? ""
          : XmlEscape(absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                       absl::FromUnixSeconds(all[0].snapshot_time().seconds()),
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
  const ExtraColumn trends = TrendColumn(stub.get(), policy, all, MonthEnds(kTrendPoints));
  absl::StrAppend(&html, "<h2 id=\"upgrades\">The ", upgrades.size(), " cheapest upgrades</h2>",
                  "<p class=\"note\">Kab/kota whose next tier registrations can reach, by the "
                  "pemda's yearly cost, then people.</p>",
                  UpgradesTable(upgrades, province_names, palette),
                  "<h2 id=\"provinces\">Kab/kota per tier, by province</h2>",
                  "<p class=\"note\">Trends: coverage (top), activity and pemda share (bottom) at "
                  "the end of each of the last ",
                  kTrendPoints - 1,
                  " months (WIB, by event time) and now, each scaled to its own range, at least "
                  "one percentage point. Point at one for the figures.</p>",
                  ProvinceTable(all, tiers, palette, &trends),
                  "<h2 id=\"national\">National table</h2>", NationalTable(all, palette, trends),
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

}  // namespace uhc::cli
