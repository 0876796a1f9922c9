// uhcctl awards: who holds which tier as of a day or cut-off, as text, CSV or one standalone
// HTML page (the report's tables and palette, report_html.h).
#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"
#include "tools/uhcctl/national.h"
#include "tools/uhcctl/report_html.h"

namespace uhc::cli {
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
      XmlEscape(title), "</title><style>", kPageCss, palette.Css(),
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
    recorded =
        absl::StrCat(past->cutoff_id.empty() ? "figures as recorded at " : "frozen at ",
                     absl::FormatTime("%Y-%m-%d %H:%M WIB",
                                      absl::FromUnixSeconds(first->snapshot_time().seconds()),
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
