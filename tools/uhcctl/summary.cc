// uhcctl summary / health: the national picture for people, and whether the services serve.
#include <iostream>
#include <map>
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
    std::cout << absl::StrFormat("  %-3s%-18s", code, row->region_name().substr(0, 17));
    for (const auto& tier : tiers) std::cout << absl::StrFormat("%9d", by_province[code][tier]);
    std::cout << "  " << row->tier() << "\n";
  }

  std::vector<const v1::RegionTier*> near = UpgradeCandidates(all);
  if (static_cast<int64_t>(near.size()) > *closest) near.resize(*closest);
  std::cout << "\nThe " << near.size() << " kab/kota closest to their next tier:\n";
  for (const v1::RegionTier* t : near) {
    std::cout << absl::StrFormat("- %s %s: %s -> %s\n", t->region_code(), t->region_name(),
                                 t->tier(), t->next_tier());
    if (std::optional<v1::TierPlan> plan = PlanNextTier(stub.get(), *t, policy)) {
      std::ostringstream text;
      PrintPlan(*plan, text);
      std::string body = text.str();
      std::cout << body.substr(body.find('\n') + 1);
    }
  }
  std::cout << "\nWhere to look next:\n"
               "  uhcctl tier 12.19                     one region: figures, reasons, shortfall\n"
               "  uhcctl plan 12.19 --target pratama    what it takes, in people and rupiah\n"
               "  uhcctl tiers --province 12            a province's table (--format csv|json)\n"
               "  uhcctl report --html run/report.html  the same picture as a web page, with maps\n"
               "  uhcctl watch                          tier changes as they happen\n";
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
