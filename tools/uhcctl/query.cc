// uhcctl tier / tiers / plan / watch / history: ClassifierService for people (and --json).
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"

namespace uhc::cli {
namespace {

using google::protobuf::util::TimeUtil;

Option PolicyOption() { return {"policy", "ID", "policy id", "the default (uhc-awards-2026)"}; }

std::string PolicyOf(const Command& cmd) { return cmd.Has("policy") ? cmd.Get("policy") : ""; }

std::string Shortfall(const v1::CriterionResult& c) {
  if (c.met()) return c.waived() ? "waived" : "met";
  if (c.shortfall_people() < 0) return "not met";
  return absl::StrCat("short by ", Thousands(c.shortfall_people()), " people");
}

std::string Actual(const v1::CriterionResult& c) {
  if (c.metric() == "uhc_prioritas") return c.actual() ? "yes" : "no";
  if (c.metric() == "dues_paid_through") {
    return c.actual() ? absl::StrFormat("%04d-%02d", c.actual() / 100, c.actual() % 100) : "never";
  }
  return Percent(c.actual());
}

}  // namespace

void PrintTier(const v1::RegionTier& t, std::ostream& out) {
  const v1::RegionMetrics& m = t.metrics();
  out << t.region_name() << " (" << t.region_code() << "): " << t.tier_name() << "  ["
      << t.policy_id() << "]" << (t.stale() ? "  STALE: Redis unreachable, last good data" : "")
      << "\n";
  out << absl::StrFormat(
      "  population %s, participants %s (coverage %s), active %s "
      "(activity %s), PBPU Pemda %s (share %s)\n",
      Thousands(m.population()), Thousands(m.participants()), Percent(m.coverage_bp()),
      Thousands(m.active()), Percent(m.activity_bp()), Thousands(m.pemda_registered()),
      Percent(m.pemda_share_bp()));
  out << "  UHC Prioritas " << (m.uhc_prioritas() ? "yes" : "no") << ", dues paid through "
      << (m.dues_paid_through().empty() ? "never" : m.dues_paid_through()) << "\n";
  if (!t.next_tier().empty()) {
    out << "  next tier: " << t.next_tier() << " lacks:\n";
    for (const v1::CriterionResult& c : t.next_tier_lacks()) {
      out << absl::StrFormat("    %-58s actual %-9s %s\n", c.description(), Actual(c),
                             Shortfall(c));
    }
  } else {
    out << "  the highest tier of the policy\n";
  }
  out << "  data version " << t.data_version() << ", as of " << TimeUtil::ToString(t.as_of())
      << "\n";
}

int RunTier(const std::vector<std::string>& args) {
  Command cmd("tier",
              "Shows the tier a region holds, its figures, and what the next tier lacks (in\n"
              "people). REGION is a kab/kota (\"12.19\"), a province (\"36\") or \"ID\".",
              "REGION [--policy ID] [--json] [--all-criteria]",
              {ClassifierAddressOption(),
               PolicyOption(),
               {"json", "", "print the RegionTier as JSON", ""},
               {"all-criteria", "", "list every criterion of every tier", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (cmd.positional().size() != 1) return cmd.UsageError("expects one REGION");
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  v1::GetRegionTierRequest request;
  request.set_region_code(cmd.positional()[0]);
  request.set_policy_id(PolicyOf(cmd));
  request.set_view(v1::REGION_TIER_VIEW_FULL);  // the figures, criteria and next tier printed
  v1::RegionTier tier;
  grpc::ClientContext context;
  Authenticate(&context);
  context.set_deadline(Deadline(10));
  grpc::Status status = stub->GetRegionTier(&context, request, &tier);
  if (!status.ok()) return ReportRpcError(cmd, status);
  if (cmd.Flag("json")) {
    std::cout << ToJson(tier) << "\n";
    return kExitOk;
  }
  PrintTier(tier, std::cout);
  if (cmd.Flag("all-criteria")) {
    std::cout << "  criteria:\n";
    for (const v1::CriterionResult& c : tier.criteria()) {
      std::cout << absl::StrFormat("    %-10s %-58s actual %-9s %s\n",
                                   c.tier().empty() ? "(all)" : c.tier(), c.description(),
                                   Actual(c), Shortfall(c));
    }
  }
  return kExitOk;
}

absl::StatusOr<std::vector<v1::RegionTier>> ListAll(v1::ClassifierService::Stub* stub,
                                                    v1::ListRegionTiersRequest request,
                                                    grpc::Status* error) {
  std::vector<v1::RegionTier> all;
  request.set_page_size(1000);
  do {
    v1::ListRegionTiersResponse response;
    grpc::ClientContext context;
    Authenticate(&context);
    context.set_deadline(Deadline(30));
    *error = stub->ListRegionTiers(&context, request, &response);
    if (!error->ok()) return absl::UnknownError(error->error_message());
    for (auto& t : *response.mutable_regions()) all.push_back(std::move(t));
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return all;
}

int RunTiers(const std::vector<std::string>& args) {
  Command cmd("tiers",
              "Lists the tiers of many regions, ordered by code: a table (default), CSV or JSON.",
              "[--province P] [--tier T] [--level nation|province|regency] [--format F] "
              "[--view basic|full]",
              {ClassifierAddressOption(),
               PolicyOption(),
               {"province", "P", "only this province and its kab/kota", ""},
               {"tier", "T", "only regions holding tier T (\"none\" for no tier)", ""},
               {"level", "L", "only this level: nation, province or regency", ""},
               {"format", "F", "table, csv or json", "table"},
               {"view", "V",
                "basic (code, name, level, tier, coverage, activity, pemda share: about a "
                "twentieth of the bytes) or full (every figure, the criteria, the next tier)",
                "full"}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  std::string format = cmd.Get("format");
  if (format != "table" && format != "csv" && format != "json") {
    return cmd.UsageError(absl::StrCat("--format: '", format, "' is not table, csv or json"));
  }
  v1::ListRegionTiersRequest request;
  std::string view = cmd.Get("view");
  if (view == "full") {
    request.set_view(v1::REGION_TIER_VIEW_FULL);
  } else if (view == "basic") {
    request.set_view(v1::REGION_TIER_VIEW_BASIC);
  } else {
    return cmd.UsageError(absl::StrCat("--view: '", view, "' is not basic or full"));
  }
  const bool full = request.view() == v1::REGION_TIER_VIEW_FULL;
  request.set_policy_id(PolicyOf(cmd));
  request.set_province_code(cmd.Get("province"));
  request.set_tier(cmd.Get("tier"));
  std::string level = cmd.Get("level");
  if (level == "nation") {
    request.set_level(v1::REGION_LEVEL_NATION);
  } else if (level == "province") {
    request.set_level(v1::REGION_LEVEL_PROVINCE);
  } else if (level == "regency") {
    request.set_level(v1::REGION_LEVEL_REGENCY);
  } else if (!level.empty()) {
    return cmd.UsageError(
        absl::StrCat("--level: '", level, "' is not nation, province or regency"));
  }
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  grpc::Status error;
  auto all = ListAll(stub.get(), request, &error);
  if (!all.ok()) return ReportRpcError(cmd, error);
  if (format == "json") {
    std::cout << "[";
    for (size_t i = 0; i < all->size(); ++i) std::cout << (i ? ",\n" : "") << ToJson((*all)[i]);
    std::cout << "]\n";
  } else if (format == "csv") {
    // The basic view has no counts and no next tier: its columns are the rest.
    std::cout << "region_code,region_name,tier,"
              << (full ? "population,participants,active,pemda_registered," : "")
              << "coverage_bp,activity_bp,pemda_share_bp" << (full ? ",next_tier" : "") << "\n";
    for (const auto& t : *all) {
      const auto& m = t.metrics();
      std::cout << t.region_code() << ",\"" << t.region_name() << "\"," << t.tier() << ",";
      if (full) {
        std::cout << m.population() << "," << m.participants() << "," << m.active() << ","
                  << m.pemda_registered() << ",";
      }
      std::cout << m.coverage_bp() << "," << m.activity_bp() << "," << m.pemda_share_bp()
                << (full ? "," + t.next_tier() : "") << "\n";
    }
  } else {
    auto population = [&](const std::string& text) {
      return full ? absl::StrFormat(" %13s", text) : "";
    };
    std::cout << absl::StrFormat("%-6s %-36s %-12s%s %9s %9s %9s\n", "code", "region", "tier",
                                 population("population"), "coverage", "activity", "pemda");
    for (const auto& t : *all) {
      const auto& m = t.metrics();
      std::cout << absl::StrFormat("%-6s %-36s %-12s%s %9s %9s %9s\n", t.region_code(),
                                   t.region_name().substr(0, 36), t.tier(),
                                   population(Thousands(m.population())), Percent(m.coverage_bp()),
                                   Percent(m.activity_bp()), Percent(m.pemda_share_bp()));
    }
    std::cout << all->size() << " regions\n";
  }
  return kExitOk;
}

void PrintPlan(const v1::TierPlan& plan, std::ostream& out) {
  out << "Plan for " << plan.region_code() << " to reach " << plan.target_tier() << " ["
      << plan.policy_id() << "], now " << plan.current_tier() << ":\n";
  if (!plan.reachable()) {
    out << "  NOT REACHABLE: " << plan.reason() << "\n";
  } else if (plan.total_people() == 0) {
    out << "  no registrations needed\n";
  } else {
    out << "  enrol " << Thousands(plan.enroll_uninsured()) << " uninsured residents (of "
        << Thousands(plan.uninsured_pool()) << ") and take over "
        << Thousands(plan.take_over_inactive()) << " inactive PBPU mandiri / BP participants (of "
        << Thousands(plan.take_over_pool()) << ") as PBPU Pemda: " << Thousands(plan.total_people())
        << " people\n";
    out << "  cost to the pemda: " << Rupiah(plan.yearly_cost_idr()) << " a year ("
        << Rupiah(plan.monthly_cost_per_person_idr()) << " per person per month)\n";
    const auto& m = plan.metrics_after();
    out << "  after: coverage " << Percent(m.coverage_bp()) << ", activity "
        << Percent(m.activity_bp()) << ", pemda share " << Percent(m.pemda_share_bp()) << "\n";
  }
  for (const auto& r : plan.unmet_requirements()) {
    out << "  also required, not fixable by registering people: " << r.description() << "\n";
  }
}

int RunPlan(const std::vector<std::string>& args) {
  Command cmd("plan",
              "The fewest residents the pemda must register to reach a tier (uninsured residents\n"
              "enrolled plus inactive PBPU mandiri / BP participants taken over), and the yearly\n"
              "cost in rupiah.",
              "REGION --target TIER [--policy ID] [--json]",
              {ClassifierAddressOption(),
               PolicyOption(),
               {"target", "TIER", "tier id to reach, e.g. madya", ""},
               {"json", "", "print the TierPlan as JSON", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (cmd.positional().size() != 1) return cmd.UsageError("expects one REGION");
  if (!cmd.Has("target")) return cmd.UsageError("--target is required");
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  v1::PlanTierRequest request;
  request.set_region_code(cmd.positional()[0]);
  request.set_target_tier(cmd.Get("target"));
  request.set_policy_id(PolicyOf(cmd));
  v1::TierPlan plan;
  grpc::ClientContext context;
  Authenticate(&context);
  context.set_deadline(Deadline(10));
  grpc::Status status = stub->PlanTier(&context, request, &plan);
  if (!status.ok()) return ReportRpcError(cmd, status);
  if (cmd.Flag("json")) {
    std::cout << ToJson(plan) << "\n";
  } else {
    PrintPlan(plan, std::cout);
  }
  return kExitOk;
}

int RunWatch(const std::vector<std::string>& args) {
  Command cmd("watch",
              "Prints tier changes as they are recorded, until interrupted. Reconnects by itself "
              "(servers end connections every few minutes) and resumes where it stopped, so no "
              "change is missed or printed twice.",
              "[--region R] [--province P] [--policy ID] [--json]",
              {ClassifierAddressOption(),
               PolicyOption(),
               {"region", "R", "only this region", ""},
               {"province", "P", "only this province and its kab/kota", ""},
               {"json", "", "one JSON object per line", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  v1::WatchTierChangesRequest request;
  request.set_region_code(cmd.Get("region"));
  request.set_province_code(cmd.Get("province"));
  request.set_policy_id(PolicyOf(cmd));
  std::cerr << "watching tier changes of "
            << (!request.region_code().empty() ? "region " + request.region_code()
                : !request.province_code().empty()
                    ? "province " + request.province_code() + " and its kab/kota"
                    : std::string("every region"))
            << ", policy " << (request.policy_id().empty() ? "all" : request.policy_id()) << ", on "
            << cmd.Get("classifier") << " (Ctrl-C to stop)" << std::endl;
  // Backoff between failed attempts: 100 ms doubling to 5 s, reset by any message received.
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    grpc::ClientContext context;
    Authenticate(&context);
    auto reader = stub->WatchTierChanges(&context, request);
    v1::WatchTierChangesResponse message;
    bool received = false;
    while (reader->Read(&message)) {
      received = true;
      if (!message.resume_token().empty()) request.set_resume_token(message.resume_token());
      if (!message.has_change()) continue;
      const v1::TierChange& c = message.change();
      if (cmd.Flag("json")) {
        std::cout << ToJson(c) << std::endl;
      } else {
        std::cout << TimeUtil::ToString(c.changed_at()) << "  " << c.region_code() << "  "
                  << c.policy_id() << "  " << c.from_tier() << " -> " << c.to_tier() << std::endl;
      }
    }
    grpc::Status status = reader->Finish();
    switch (status.error_code()) {
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::NOT_FOUND:
      case grpc::StatusCode::UNAUTHENTICATED:
      case grpc::StatusCode::PERMISSION_DENIED:
        return ReportRpcError(cmd, status);
      case grpc::StatusCode::OUT_OF_RANGE:
        std::cerr << "uhcctl watch: " << status.error_message()
                  << "\nuhcctl watch: changes while disconnected may be missing (see uhcctl "
                     "history); watching live again"
                  << std::endl;
        request.clear_resume_token();
        break;
      default:
        if (received) {
          backoff = std::chrono::milliseconds(100);  // a normal end: the connection's age
        } else {
          std::cerr << "uhcctl watch: " << status.error_message() << "; retrying in "
                    << backoff.count() << " ms" << std::endl;
          std::this_thread::sleep_for(backoff);
          backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
        }
    }
  }
}

int RunHistory(const std::vector<std::string>& args) {
  Command cmd("history", "The recorded tier changes of a region, newest first.",
              "REGION [--policy ID] [--limit N] [--json]",
              {ClassifierAddressOption(),
               PolicyOption(),
               {"limit", "N", "at most N changes", "100"},
               {"json", "", "one JSON object per line", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (cmd.positional().size() != 1) return cmd.UsageError("expects one REGION");
  auto limit = cmd.GetInt("limit", 1, 1000);
  if (!limit) return kExitUsage;
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  v1::ListTierChangesRequest request;
  request.set_region_code(cmd.positional()[0]);
  request.set_policy_id(PolicyOf(cmd));
  request.set_limit(static_cast<int>(*limit));
  v1::ListTierChangesResponse response;
  grpc::ClientContext context;
  Authenticate(&context);
  context.set_deadline(Deadline(10));
  grpc::Status status = stub->ListTierChanges(&context, request, &response);
  if (!status.ok()) return ReportRpcError(cmd, status);
  for (const v1::TierChange& c : response.changes()) {
    if (cmd.Flag("json")) {
      std::cout << ToJson(c) << "\n";
    } else {
      std::cout << TimeUtil::ToString(c.changed_at()) << "  " << c.policy_id() << "  "
                << c.from_tier() << " -> " << c.to_tier() << "\n";
    }
  }
  if (response.changes().empty() && !cmd.Flag("json")) std::cout << "no recorded changes\n";
  return kExitOk;
}

}  // namespace uhc::cli
