// uhcctl summary / health: the national picture for people, and whether the services serve.
#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"
#include "tools/uhcctl/national.h"

namespace uhc::cli {

void PrintTier(const v1::RegionTier& t, std::ostream& out);
void PrintPlan(const v1::TierPlan& plan, std::ostream& out);

int RunSummary(const std::vector<std::string>& args) {
  Command cmd(
      "summary",
      "The national picture: tier counts nationally and by province, the cheapest\n"
      "upgrades (kab/kota that registrations can move up, by yearly cost to the pemda,\n"
      "one per province first) with their plans, and where to look next.",
      "[--policy ID] [--closest N] [--fresh-after-ms EPOCH_MS]",
      {ClassifierAddressOption(),
       {"policy", "ID", "policy id", "the default"},
       {"closest", "N", "how many of the cheapest upgrades to show, with their plans", "10"},
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
  std::vector<std::string> tiers;
  for (const TierLabel& tier : PolicyTiers(stub.get(), policy)) tiers.push_back(tier.id);

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
    std::cout << absl::StrFormat("  %-3s%s ", code, Fit(row->region_name(), 17));
    for (const auto& tier : tiers) std::cout << absl::StrFormat("%9d", by_province[code][tier]);
    std::cout << "  " << row->tier() << "\n";
  }

  // The cheapest upgrades (by the pemda's yearly cost, then people), at most one per province
  // while others remain, so that equal one-person plans do not all come from one province.
  std::vector<Upgrade> all_upgrades = CheapestUpgrades(stub.get(), all, policy, all.size());
  std::vector<const Upgrade*> shown;
  std::set<std::string> provinces_shown;
  for (int pass = 0; pass < 2; ++pass) {
    for (const Upgrade& u : all_upgrades) {
      if (static_cast<int64_t>(shown.size()) >= *closest) break;
      const bool seen = provinces_shown.count(u.region->parent_code()) > 0;
      if ((pass == 0) == seen) continue;  // first pass: new provinces; second: the rest
      if (std::find(shown.begin(), shown.end(), &u) != shown.end()) continue;
      shown.push_back(&u);
      provinces_shown.insert(u.region->parent_code());
    }
  }
  std::stable_sort(shown.begin(), shown.end(), [](const Upgrade* a, const Upgrade* b) {
    return std::make_pair(a->plan.yearly_cost_idr(), a->plan.total_people()) <
           std::make_pair(b->plan.yearly_cost_idr(), b->plan.total_people());
  });
  std::cout << "\nThe "
            << Count(static_cast<long long>(shown.size()), "cheapest upgrade", "cheapest upgrades")
            << " (of " << Count(static_cast<long long>(all_upgrades.size()), "kab/kota", "kab/kota")
            << " that registrations can move up; by yearly cost to the pemda, then people, one\n"
               "per province first; all of them: uhcctl report --html FILE):\n";
  for (const Upgrade* u : shown) {
    const v1::RegionTier* t = u->region;
    std::cout << absl::StrFormat("- %s %s: %s -> %s\n", t->region_code(), t->region_name(),
                                 t->tier(), t->next_tier());
    std::ostringstream text;
    PrintPlan(u->plan, text);
    std::string body = text.str();
    std::cout << body.substr(body.find('\n') + 1);
  }
  // Hints that show something on this data: the first upgrade above, its province.
  const v1::RegionTier* example = shown.empty() ? nullptr : shown.front()->region;
  const std::string code = example ? example->region_code() : "12.19";
  const std::string target = example ? example->next_tier() : "pratama";
  const std::string province = example ? example->parent_code() : "12";
  std::cout << "\nWhere to look next:\n"
            << absl::StrFormat("  %-44s one region: figures, reasons, shortfall\n",
                               "uhcctl tier " + code)
            << absl::StrFormat("  %-44s what it takes, in people and rupiah\n",
                               "uhcctl plan " + code + " --target " + target)
            << absl::StrFormat("  %-44s a province's table (--format csv|json)\n",
                               "uhcctl tiers " + province)
            << absl::StrFormat("  %-44s the same picture as a web page, with maps\n",
                               "uhcctl report --html report.html")
            << absl::StrFormat("  %-44s tier changes as they happen\n", "uhcctl watch");
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
