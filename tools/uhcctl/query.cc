// uhcctl tier / tiers / plan: ClassifierService for people (and --json). watch and history are
// in watch.cc.
#include "tools/uhcctl/query.h"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/domain/text.h"
#include "google/protobuf/util/time_util.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"
#include "tools/uhcctl/national.h"

namespace uhc::cli {

Option PolicyOption() {
  return {"policy", "ID", "policy id (default: the service's default policy, uhc-awards-2026)", ""};
}

std::string PolicyOf(const Command& cmd) { return cmd.Has("policy") ? cmd.Get("policy") : ""; }

namespace {

using google::protobuf::util::TimeUtil;

std::string Shortfall(const v1::CriterionResult& c) {
  if (c.met()) return c.waived() ? "waived" : "met";
  if (c.shortfall_people() < 0) return "not met";
  return "short by " + Count(c.shortfall_people(), "person", "people");
}

std::string Actual(const v1::CriterionResult& c) {
  if (c.metric() == "uhc_prioritas") return c.actual() ? "yes" : "no";
  if (c.metric() == "dues_paid_through") {
    return c.actual_month().empty() ? "never" : c.actual_month();
  }
  return Percent(c.actual());
}

// Lower case, single spaces, no "kabupaten"/"kab."/"kota"/"provinsi" in front.
std::string Normalized(const std::string& text, bool strip_kind) {
  std::string out;
  for (char ch : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(ch))) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(absl::ascii_tolower(static_cast<unsigned char>(ch)));
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  if (strip_kind) {
    for (const char* kind : {"kabupaten ", "kab. ", "kab ", "kota ", "provinsi ", "prov. "}) {
      if (absl::StartsWith(out, kind)) return out.substr(strlen(kind));
    }
  }
  return out;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

// What a person typed for a region, as its code: a code ("12.19", "12", "ID") or a name ("Batu
// Bara", "kota medan"), ignoring case and extra spaces, with or without "Kabupaten"/"Kota". An
// unknown or ambiguous name is INVALID_ARGUMENT/NOT_FOUND with the candidates (code and name);
// an RPC failure sets *rpc_error. Checks `policy` on the way (the list is asked for it).
absl::StatusOr<std::string> ResolveRegion(v1::ClassifierService::Stub* stub,
                                          const std::string& policy, const std::string& text,
                                          bool provinces_only, grpc::Status* rpc_error) {
  v1::ListRegionTiersRequest request;
  request.set_policy_id(policy);
  request.set_view(v1::REGION_TIER_VIEW_BASIC);
  if (provinces_only) request.set_level(v1::REGION_LEVEL_PROVINCE);
  auto all = ListAll(stub, request, rpc_error);
  if (!all.ok()) return all.status();
  const std::string what = provinces_only ? "province" : "region";
  for (const v1::RegionTier& t : *all) {
    if (t.region_code() == text || (text == "id" && t.region_code() == "ID"))
      return t.region_code();
  }
  const std::string full = Normalized(text, false), bare = Normalized(text, true);
  std::vector<const v1::RegionTier*> exact, loose;
  for (const v1::RegionTier& t : *all) {
    if (Normalized(t.region_name(), false) == full) exact.push_back(&t);
    if (Normalized(t.region_name(), true) == bare) loose.push_back(&t);
  }
  const std::vector<const v1::RegionTier*>& found = !exact.empty() ? exact : loose;
  auto describe = [](const v1::RegionTier* t) {
    return absl::StrCat("'", t->region_code(), "' (", t->region_name(), ")");
  };
  if (found.size() == 1) return found[0]->region_code();
  if (found.size() > 1) {
    std::vector<std::string> names;
    for (const v1::RegionTier* t : found) names.push_back(describe(t));
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' names more than one ", what, ": ",
                                                   absl::StrJoin(names, ", "), "; give the code"));
  }
  // Nothing: suggest the closest codes and names.
  std::vector<std::pair<size_t, const v1::RegionTier*>> ranked;
  for (const v1::RegionTier& t : *all) {
    size_t d = std::min(EditDistance(text, t.region_code()),
                        EditDistance(bare, Normalized(t.region_name(), true)));
    if (!bare.empty() && absl::StrContains(Normalized(t.region_name(), true), bare)) d = 0;
    ranked.push_back({d, &t});
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> suggestions;
  for (size_t i = 0; i < ranked.size() && i < 3 && ranked[i].first <= 3; ++i) {
    suggestions.push_back(describe(ranked[i].second));
  }
  return absl::NotFoundError(absl::StrCat(
      "no ", what, " '", text, "'",
      suggestions.empty() ? "" : "; did you mean " + absl::StrJoin(suggestions, ", ") + "?",
      " (a code such as 12.19 or 12, or a name such as \"Batu Bara\")"));
}

// ResolveRegion for a command: the code in *code, or the error printed and the exit code.
int Resolve(const Command& cmd, v1::ClassifierService::Stub* stub, const std::string& text,
            bool provinces_only, std::string* code) {
  grpc::Status error;
  absl::StatusOr<std::string> found =
      ResolveRegion(stub, PolicyOf(cmd), text, provinces_only, &error);
  if (found.ok()) {
    *code = *found;
    return kExitOk;
  }
  return error.ok() ? cmd.UsageError(std::string(found.status().message()))
                    : ReportRpcError(cmd, error);
}

void PrintTier(const v1::RegionTier& t, std::ostream& out) {
  const v1::RegionMetrics& m = t.metrics();
  const bool nation = t.level() == v1::REGION_LEVEL_NATION;
  // Tiers are awarded to pemda (kab/kota and provinces); the nation holds none.
  out << t.region_name() << " (" << t.region_code() << "): "
      << (nation ? "national figures (tiers are awarded to kab/kota and provinces)" : t.tier_name())
      << "  [" << t.policy_id() << "]"
      << (t.stale() ? "  STALE: Redis unreachable, last good data" : "") << "\n";
  out << absl::StrFormat(
      "  population %s, participants %s (coverage %s), active %s "
      "(activity %s), PBPU Pemda %s (share %s)\n",
      Thousands(m.population()), Thousands(m.participants()), Percent(m.coverage_bp()),
      Thousands(m.active()), Percent(m.activity_bp()), Thousands(m.pemda_registered()),
      Percent(m.pemda_share_bp()));
  if (m.coverage_bp() > 10000) {
    out << "  coverage above 100 %: more participants than registered residents. The population\n"
           "  figure lags (Dukcapil's count at its as-of date) while newborns, newcomers and\n"
           "  residents registered elsewhere are enrolled here; the criteria use it as it is.\n";
  }
  if (nation) {
    out << "  UHC Prioritas and PBPU Pemda dues are a pemda's; see `uhcctl tiers --level "
           "province` and `uhcctl summary`\n";
  } else {
    out << "  UHC Prioritas " << (m.uhc_prioritas() ? "yes" : "no") << ", dues paid through "
        << (m.dues_paid_through().empty() ? "never (no payment recorded)" : m.dues_paid_through())
        << "\n";
  }
  // No next tier for the nation: nobody acts on its criteria.
  if (!nation && !t.next_tier().empty()) {
    out << "  next tier: " << t.next_tier() << " lacks:\n";
    for (const v1::CriterionResult& c : t.next_tier_lacks()) {
      out << absl::StrFormat("    %-58s actual %-9s %s\n", c.description(), Actual(c),
                             Shortfall(c));
    }
  } else if (!nation) {
    out << "  the highest tier of the policy\n";
  }
  if (!t.cutoff_id().empty()) {
    out << "  frozen in cut-off " << Printable(t.cutoff_id()) << " at "
        << TimeUtil::ToString(t.snapshot_time()) << ", data version " << t.data_version() << "\n";
  } else if (!t.as_of_date().empty()) {
    // Late events count on the day they occurred: a past day's figures can still change.
    out << "  figures at the end of " << t.as_of_date() << " (WIB) as recorded at "
        << TimeUtil::ToString(t.snapshot_time()) << ", data version " << t.data_version() << "\n";
  } else {
    out << "  data version " << t.data_version() << ", as of "
        << TimeUtil::ToString(t.snapshot_time()) << "\n";
  }
}

int RunTier(const std::vector<std::string>& args) {
  Command cmd(
      "tier",
      "Shows the tier a region holds, its figures, and what the next tier lacks (in\n"
      "people). REGION is a kab/kota (\"12.19\" or \"Batu Bara\"), a province (\"36\" or\n"
      "\"Banten\") or \"ID\" (the nation); names ignore case and extra spaces. With --as-of\n"
      "or --cutoff, as it stood at the end of a past day or in a frozen cut-off.",
      "REGION [--policy ID] [--as-of YYYY-MM-DD | --cutoff ID] [--json] [--all-criteria]",
      {ClassifierAddressOption(),
       PolicyOption(),
       AsOfOption(),
       CutoffOption(),
       {"json", "", "print the RegionTier as JSON", ""},
       {"all-criteria", "", "list every criterion of every tier", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (cmd.positional().size() != 1) return cmd.UsageError("expects one REGION");
  std::optional<PastQuery> past = GetPast(cmd);
  if (!past) return kExitUsage;
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  std::string region;
  if (int e = Resolve(cmd, stub.get(), cmd.positional()[0], false, &region); e != kExitOk) {
    return e;
  }
  v1::GetRegionTierRequest request;
  request.set_region_code(region);
  request.set_policy_id(PolicyOf(cmd));
  request.set_view(v1::REGION_TIER_VIEW_FULL);  // the figures, criteria and next tier printed
  request.set_as_of_date(past->as_of_date);
  request.set_cutoff_id(past->cutoff_id);
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
  if (std::string heading = PastHeading(tier.as_of_date(), tier.cutoff_id()); !heading.empty()) {
    std::cout << heading << "\n";
  }
  PrintTier(tier, std::cout);
  if (cmd.Flag("all-criteria")) {
    // A tier with several groups of criteria is held when any one group is met in full.
    std::map<std::string, int> groups;
    for (const v1::CriterionResult& c : tier.criteria()) {
      groups[c.tier()] = std::max(groups[c.tier()], c.group() + 1);
    }
    std::cout << "  criteria (\"madya or-1\", \"madya or-2\": alternatives, either group in full "
                 "will do):\n";
    for (const v1::CriterionResult& c : tier.criteria()) {
      std::string name = c.tier().empty() ? "(all)" : c.tier();
      if (groups[c.tier()] > 1) absl::StrAppend(&name, " or-", c.group() + 1);
      std::cout << absl::StrFormat("    %-12s %-58s actual %-9s %s\n", name, c.description(),
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
              "Lists the tiers of many regions, ordered by code: a table (default), CSV or JSON.\n"
              "With --as-of or --cutoff, as they stood at the end of a past day or in a frozen\n"
              "cut-off (the table's first line says which; CSV gains as_of_date and cutoff_id).",
              "[PROVINCE] [--province P] [--tier T] [--level nation|province|regency] "
              "[--as-of YYYY-MM-DD | --cutoff ID] [--format F] [--view basic|full]",
              {ClassifierAddressOption(),
               PolicyOption(),
               AsOfOption(),
               CutoffOption(),
               {"province", "P",
                "only this province and its kab/kota (code or name; the same as PROVINCE)", ""},
               {"tier", "T",
                "only regions holding tier T (madya, \"UHC Madya\", any case; \"none\" for no "
                "tier)",
                ""},
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
  std::optional<PastQuery> past = GetPast(cmd);
  if (!past) return kExitUsage;
  const bool in_past = !past->as_of_date.empty() || !past->cutoff_id.empty();
  v1::ListRegionTiersRequest request;
  request.set_as_of_date(past->as_of_date);
  request.set_cutoff_id(past->cutoff_id);
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
  if (cmd.positional().size() > 1) return cmd.UsageError("expects at most one PROVINCE");
  std::string province = cmd.Get("province");
  if (!cmd.positional().empty()) {
    if (!province.empty() && province != cmd.positional()[0]) {
      return cmd.UsageError("PROVINCE and --province differ; give one");
    }
    province = cmd.positional()[0];
  }
  request.set_tier(TierId(cmd.Get("tier")));
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
  if (!province.empty()) {
    if (int e = Resolve(cmd, stub.get(), province, true, &province); e != kExitOk) return e;
    request.set_province_code(province);
  }
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
              << "coverage_bp,activity_bp,pemda_share_bp" << (full ? ",next_tier" : "")
              << (in_past ? ",as_of_date,cutoff_id" : "") << "\n";
    for (const auto& t : *all) {
      const auto& m = t.metrics();
      std::cout << t.region_code() << ",\"" << t.region_name() << "\"," << t.tier() << ",";
      if (full) {
        std::cout << m.population() << "," << m.participants() << "," << m.active() << ","
                  << m.pemda_registered() << ",";
      }
      std::cout << m.coverage_bp() << "," << m.activity_bp() << "," << m.pemda_share_bp()
                << (full ? "," + t.next_tier() : "")
                << (in_past ? absl::StrCat(",", t.as_of_date(), ",", t.cutoff_id()) : "") << "\n";
    }
  } else {
    if (in_past) {
      // The server's echo names a cut-off's date; an empty listing has only the request's.
      std::cout << (all->empty() ? PastHeading(past->as_of_date, past->cutoff_id)
                                 : PastHeading((*all)[0].as_of_date(), (*all)[0].cutoff_id()))
                << "\n";
    }
    auto population = [&](const std::string& text) {
      return full ? absl::StrFormat(" %13s", text) : "";
    };
    std::cout << absl::StrFormat("%-6s %-36s %-12s%s %9s %9s %9s\n", "code", "region", "tier",
                                 population("population"), "coverage", "activity", "pemda");
    for (const auto& t : *all) {
      const auto& m = t.metrics();
      std::cout << absl::StrFormat("%-6s %s %-12s%s %9s %9s %9s\n", t.region_code(),
                                   Fit(t.region_name(), 36), t.tier(),
                                   population(Thousands(m.population())), Percent(m.coverage_bp()),
                                   Percent(m.activity_bp()), Percent(m.pemda_share_bp()));
    }
    std::cout << Count(static_cast<long long>(all->size()), "region", "regions") << "\n";
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
    std::vector<std::string> steps;
    if (plan.enroll_uninsured() > 0) {
      steps.push_back(absl::StrCat(
          "enrol ", Count(plan.enroll_uninsured(), "uninsured resident", "uninsured residents"),
          " (of ", Thousands(plan.uninsured_pool()), ")"));
    }
    if (plan.take_over_inactive() > 0) {
      steps.push_back(
          absl::StrCat("take over ",
                       Count(plan.take_over_inactive(), "inactive PBPU mandiri / BP participant",
                             "inactive PBPU mandiri / BP participants"),
                       " (of ", Thousands(plan.take_over_pool()), ")"));
    }
    out << "  " << absl::StrJoin(steps, " and ")
        << " as PBPU Pemda: " << Count(plan.total_people(), "person", "people") << "\n";
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
               {"target", "TIER", "tier to reach: madya, \"UHC Madya\", any case", ""},
               {"json", "", "print the TierPlan as JSON", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (cmd.positional().size() != 1) return cmd.UsageError("expects one REGION");
  if (!cmd.Has("target")) return cmd.UsageError("--target is required");
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  std::string region;
  if (int e = Resolve(cmd, stub.get(), cmd.positional()[0], false, &region); e != kExitOk) {
    return e;
  }
  if (region == "ID") {
    return cmd.UsageError(
        "a plan is for a pemda: give a kab/kota or a province (the nation holds no tier and has "
        "no dues or PBPU Pemda of its own; `uhcctl summary` shows the closest kab/kota)");
  }
  v1::PlanTierRequest request;
  request.set_region_code(region);
  request.set_target_tier(TierId(cmd.Get("target")));
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

}  // namespace uhc::cli
