// uhcctl summary / report / health: the national picture for people.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"

namespace uhc::cli {
namespace {

// Every region's tier (one page holds the whole country); waits until the snapshot was read
// after `fresh_after` (when given), so a summary right after an ingest shows its effect.
bool FetchAll(const Command& cmd, v1::ClassifierService::Stub* stub, const std::string& policy,
              absl::Time fresh_after, std::vector<v1::RegionTier>* out, int* exit_code) {
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (;;) {
    v1::ListRegionTiersRequest request;
    request.set_policy_id(policy);
    request.set_page_size(1000);
    // Summary and report use fields outside the basic view (parent, figures, next tier lacks).
    request.set_view(v1::REGION_TIER_VIEW_FULL);
    v1::ListRegionTiersResponse response;
    grpc::ClientContext context;
    Authenticate(&context);
    context.set_deadline(Deadline(30));
    grpc::Status status = stub->ListRegionTiers(&context, request, &response);
    if (!status.ok()) {
      *exit_code = ReportRpcError(cmd, status);
      return false;
    }
    bool fresh = !response.regions().empty() &&
                 absl::FromUnixSeconds(response.regions(0).as_of().seconds()) +
                         absl::Nanoseconds(response.regions(0).as_of().nanos()) >=
                     fresh_after;
    if (fresh || absl::Now() > deadline) {
      out->assign(response.regions().begin(), response.regions().end());
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));  // polling the condition "snapshot is fresh"
  }
}

std::vector<std::string> TierOrder(v1::ClassifierService::Stub* stub, const std::string& policy) {
  v1::ListPoliciesResponse response;
  grpc::ClientContext context;
  Authenticate(&context);
  context.set_deadline(Deadline(10));
  std::vector<std::string> tiers;
  if (stub->ListPolicies(&context, v1::ListPoliciesRequest(), &response).ok()) {
    std::string id = policy.empty() ? response.default_policy_id() : policy;
    for (const auto& p : response.policies()) {
      if (p.id() != id) continue;
      for (const auto& t : p.tiers()) tiers.push_back(t.id());
    }
  }
  tiers.push_back("none");
  return tiers;
}

// People the next tier lacks, if registrations can close the gap (-1 otherwise).
int64_t GapInPeople(const v1::RegionTier& t) {
  if (t.next_tier().empty()) return -1;
  int64_t sum = 0;
  for (const auto& c : t.next_tier_lacks()) {
    if (c.shortfall_people() < 0) return -1;
    sum = std::max(sum, c.shortfall_people());
  }
  return sum;
}

std::string Html(absl::string_view text) {
  return absl::StrReplaceAll(text,
                             {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

}  // namespace

void PrintTier(const v1::RegionTier& t, std::ostream& out);
void PrintPlan(const v1::TierPlan& plan, std::ostream& out);

int RunSummary(const std::vector<std::string>& args) {
  Command cmd("summary",
              "The national picture: tier counts nationally and by province, the regions closest\n"
              "to their next tier with the plan and its cost, and where to look next.",
              "[--policy ID] [--closest N] [--fresh-after-ms EPOCH_MS]",
              {ClassifierAddressOption(),
               {"policy", "ID", "policy id", "the default"},
               {"closest", "N", "how many near-miss regions to plan for", "10"},
               {"fresh-after-ms", "EPOCH_MS", "wait for a snapshot read after this time", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  auto closest = cmd.GetInt("closest", 0, 514);
  if (!closest) return kExitUsage;
  absl::Time fresh_after = absl::InfinitePast();
  if (cmd.Has("fresh-after-ms")) {
    auto ms = cmd.GetInt("fresh-after-ms", 0, INT64_MAX);
    if (!ms) return kExitUsage;
    fresh_after = absl::FromUnixMillis(*ms);
  }
  std::string policy = cmd.Has("policy") ? cmd.Get("policy") : "";
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  std::vector<v1::RegionTier> all;
  if (!FetchAll(cmd, stub.get(), policy, fresh_after, &all, &exit_code)) return exit_code;
  std::vector<std::string> tiers = TierOrder(stub.get(), policy);

  std::map<std::string, std::map<std::string, int>> by_province;  // province -> tier -> kab/kota
  std::map<std::string, int> national, provinces;
  std::map<std::string, const v1::RegionTier*> province_rows;
  const v1::RegionTier* nation = nullptr;
  for (const auto& t : all) {
    if (t.level() == v1::REGION_LEVEL_REGENCY) {
      ++national[t.tier()];
      ++by_province[t.parent_code()][t.tier()];
    } else if (t.level() == v1::REGION_LEVEL_PROVINCE) {
      ++provinces[t.tier()];
      province_rows[t.region_code()] = &t;
    } else {
      nation = &t;
    }
  }
  if (nation != nullptr) {
    const auto& m = nation->metrics();
    std::cout << absl::StrFormat(
        "Indonesia [%s]: %s residents, %s participants (coverage %s), %s active (%s)\n\n",
        nation->policy_id(), Thousands(m.population()), Thousands(m.participants()),
        Percent(m.coverage_bp()), Thousands(m.active()), Percent(m.activity_bp()));
  }
  std::cout << "Tier counts            ";
  for (const auto& tier : tiers) std::cout << absl::StrFormat("%9s", tier);
  std::cout << "\n  kab/kota (514)       ";
  for (const auto& tier : tiers) std::cout << absl::StrFormat("%9d", national[tier]);
  std::cout << "\n  provinces (38)       ";
  for (const auto& tier : tiers) std::cout << absl::StrFormat("%9d", provinces[tier]);
  std::cout << "\n\nKab/kota by province   ";
  for (const auto& tier : tiers) std::cout << absl::StrFormat("%9s", tier);
  std::cout << "  province's own tier\n";
  for (const auto& [code, row] : province_rows) {
    std::cout << absl::StrFormat("  %-3s%-18s", code, row->region_name().substr(0, 17));
    for (const auto& tier : tiers) std::cout << absl::StrFormat("%9d", by_province[code][tier]);
    std::cout << "  " << row->tier() << "\n";
  }

  std::vector<std::pair<int64_t, const v1::RegionTier*>> near;
  for (const auto& t : all) {
    int64_t gap = GapInPeople(t);
    if (t.level() == v1::REGION_LEVEL_REGENCY && gap > 0) near.emplace_back(gap, &t);
  }
  std::sort(near.begin(), near.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first
                              : a.second->region_code() < b.second->region_code();
  });
  if (static_cast<int64_t>(near.size()) > *closest) near.resize(*closest);
  std::cout << "\nThe " << near.size() << " kab/kota closest to their next tier:\n";
  for (const auto& [gap, t] : near) {
    v1::PlanTierRequest request;
    request.set_region_code(t->region_code());
    request.set_target_tier(t->next_tier());
    request.set_policy_id(policy);
    v1::TierPlan plan;
    grpc::ClientContext context;
    Authenticate(&context);
    context.set_deadline(Deadline(10));
    std::cout << absl::StrFormat("- %s %s: %s -> %s\n", t->region_code(), t->region_name(),
                                 t->tier(), t->next_tier());
    if (stub->PlanTier(&context, request, &plan).ok()) {
      std::ostringstream text;
      PrintPlan(plan, text);
      std::string body = text.str();
      std::cout << body.substr(body.find('\n') + 1);
    }
  }
  std::cout << "\nWhere to look next:\n"
               "  uhcctl tier 12.19                     one region: figures, reasons, shortfall\n"
               "  uhcctl plan 12.19 --target pratama    what it takes, in people and rupiah\n"
               "  uhcctl tiers --province 12            a province's table (--format csv|json)\n"
               "  uhcctl report --html run/report.html  the same picture as a web page\n"
               "  uhcctl watch                          tier changes as they happen\n";
  return kExitOk;
}

int RunReport(const std::vector<std::string>& args) {
  Command cmd("report",
              "Writes one self-contained HTML page (no external assets): the national table and\n"
              "tier counts per province drawn as bars.",
              "--html FILE [--policy ID]",
              {ClassifierAddressOption(),
               {"html", "FILE", "output file", ""},
               {"policy", "ID", "policy id", "the default"}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (!cmd.Has("html")) return cmd.UsageError("--html FILE is required");
  std::string policy = cmd.Has("policy") ? cmd.Get("policy") : "";
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  std::vector<v1::RegionTier> all;
  if (!FetchAll(cmd, stub.get(), policy, absl::InfinitePast(), &all, &exit_code)) return exit_code;
  std::vector<std::string> tiers = TierOrder(stub.get(), policy);
  static const char* kColours[] = {"#1b7837", "#5aae61", "#a6dba0", "#d9f0d3", "#bbbbbb"};
  std::map<std::string, std::map<std::string, int>> by_province;
  std::map<std::string, std::string> names;
  for (const auto& t : all) {
    if (t.level() == v1::REGION_LEVEL_REGENCY) ++by_province[t.parent_code()][t.tier()];
    if (t.level() == v1::REGION_LEVEL_PROVINCE) names[t.region_code()] = t.region_name();
  }
  std::string html = absl::StrCat(
      "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>UHC tiers</title>"
      "<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
      "td.l,th.l{text-align:left}.bar{display:flex;height:14px;width:520px}"
      ".bar div{height:14px}.key span{display:inline-block;width:12px;height:12px;margin:0 4px}"
      "</style></head><body><h1>UHC tiers of Indonesia</h1><p>Policy ",
      Html(all.empty() ? policy : all[0].policy_id()), ", data as of ",
      all.empty() ? "" : Html(absl::FormatTime(absl::FromUnixSeconds(all[0].as_of().seconds()))),
      "</p><h2>Kab/kota per tier, by province</h2><p class=\"key\">");
  for (size_t i = 0; i < tiers.size(); ++i) {
    absl::StrAppend(&html, "<span style=\"background:", kColours[std::min<size_t>(i, 4)],
                    "\"></span>", Html(tiers[i]));
  }
  absl::StrAppend(&html, "</p><table>");
  for (const auto& [code, counts] : by_province) {
    int total = 0;
    for (const auto& [tier, n] : counts) total += n;
    absl::StrAppend(&html, "<tr><td class=\"l\">", Html(code), " ", Html(names[code]),
                    "</td><td><div class=\"bar\">");
    for (size_t i = 0; i < tiers.size(); ++i) {
      auto it = counts.find(tiers[i]);
      int n = it == counts.end() ? 0 : it->second;
      if (n == 0) continue;
      absl::StrAppend(&html, "<div title=\"", Html(tiers[i]), ": ", n,
                      "\" style=\"width:", absl::StrFormat("%.1f", 100.0 * n / total),
                      "%;background:", kColours[std::min<size_t>(i, 4)], "\"></div>");
    }
    absl::StrAppend(&html, "</div></td><td>", total, "</td></tr>");
  }
  absl::StrAppend(&html,
                  "</table><h2>National table</h2><table><tr><th class=\"l\">code</th>"
                  "<th class=\"l\">region</th><th class=\"l\">tier</th><th>population</th>"
                  "<th>coverage</th><th>activity</th><th>pemda share</th>"
                  "<th class=\"l\">next tier</th></tr>");
  for (const auto& t : all) {
    const auto& m = t.metrics();
    absl::StrAppend(&html, "<tr><td class=\"l\">", Html(t.region_code()), "</td><td class=\"l\">",
                    Html(t.region_name()), "</td><td class=\"l\">", Html(t.tier()), "</td><td>",
                    Thousands(m.population()), "</td><td>", Percent(m.coverage_bp()), "</td><td>",
                    Percent(m.activity_bp()), "</td><td>", Percent(m.pemda_share_bp()),
                    "</td><td class=\"l\">", Html(t.next_tier()), "</td></tr>");
  }
  absl::StrAppend(&html, "</table></body></html>\n");
  std::ofstream out(cmd.Get("html"));
  out << html;
  out.close();
  if (!out) return cmd.UsageError("cannot write " + cmd.Get("html"));
  std::cout << "wrote " << cmd.Get("html") << " (" << all.size() << " regions)\n";
  return kExitOk;
}

int RunHealth(const std::vector<std::string>& args) {
  Command cmd("health", "Asks both services' grpc.health.v1 for readiness and liveness.", "",
              {EnrollmentAddressOption(), ClassifierAddressOption()});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  bool all_serving = true;
  for (const auto& [name, address] :
       {std::pair<std::string, std::string>{"enrollment-svc", cmd.Get("enrollment")},
        {"classifier-svc", cmd.Get("classifier")}}) {
    auto stub = grpc::health::v1::Health::NewStub(Connect(address));
    for (const char* service : {"", "liveness"}) {
      grpc::health::v1::HealthCheckRequest request;
      request.set_service(service);
      grpc::health::v1::HealthCheckResponse response;
      grpc::ClientContext context;
      Authenticate(&context);
      context.set_deadline(Deadline(3));
      grpc::Status status = stub->Check(&context, request, &response);
      std::string state =
          status.ok() ? grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())
                      : "unreachable (" + status.error_message() + ")";
      all_serving &=
          status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
      std::cout << absl::StrFormat("%-15s %-21s %-9s %s\n", name, address,
                                   *service ? service : "readiness", state);
    }
  }
  return all_serving ? kExitOk : kExitFailure;
}

}  // namespace uhc::cli
