// uhcctl evaluate: one policy on figures given as flags, no server needed.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/config/files.h"
#include "common/domain/policy.h"
#include "common/domain/policy_set.h"
#include "google/protobuf/util/json_util.h"
#include "tools/uhcctl/commands.h"

namespace uhc::cli {

int RunEvaluate(const std::vector<std::string>& args) {
  Command cmd("evaluate",
              "Evaluates a tier policy on a region's figures and prints one JSON object: policy,\n"
              "tier, coverage_bp, activity_bp, pemda_share_bp, criteria (each with required,\n"
              "actual, met and shortfall_people) and next_tier. Ratios are basis points rounded\n"
              "down; thresholds are checked exactly on the counts.",
              "--policy ID --population N --participants N --active N --pemda-registered N "
              "[--uhc-prioritas] [--dues-paid-through YYYY-MM]",
              {{"policy", "ID", "policy id (see config/policies)", "uhc-awards-2026"},
               {"population", "N", "official resident count", ""},
               {"participants", "N", "participants domiciled in the region", ""},
               {"active", "N", "active participants", ""},
               {"pemda-registered", "N", "participants in segment PBPU Pemda", ""},
               {"uhc-prioritas", "", "the region holds UHC Prioritas status", ""},
               {"dues-paid-through", "YYYY-MM", "last month of PBPU Pemda dues fully paid", ""},
               {"policies", "DIR", "policy directory", PolicyDirDefault()}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (!cmd.positional().empty()) {
    return cmd.UsageError(absl::StrCat("unexpected argument '", cmd.positional()[0], "'"));
  }
  constexpr long long kMax = 1000000000000LL;
  auto population = cmd.GetInt("population", 0, kMax);
  if (!population) return kExitUsage;
  auto participants = cmd.GetInt("participants", 0, kMax);
  if (!participants) return kExitUsage;
  auto active = cmd.GetInt("active", 0, *participants);
  if (!active) return kExitUsage;
  auto pemda = cmd.GetInt("pemda-registered", 0, *participants);
  if (!pemda) return kExitUsage;
  int dues = 0;
  if (cmd.Has("dues-paid-through")) {
    dues = ParseYearMonth(cmd.Get("dues-paid-through"));
    if (dues == 0) {
      return cmd.UsageError(absl::StrCat("--dues-paid-through: '", cmd.Get("dues-paid-through"),
                                         "' is not a month YYYY-MM"));
    }
  }
  absl::StatusOr<PolicySet> policies = LoadPolicies(cmd.Get("policies"));
  if (!policies.ok()) return cmd.UsageError(std::string(policies.status().message()));
  const v1::PolicyConfig* policy = policies->Find(cmd.Get("policy"));
  if (policy == nullptr) {
    std::string known;
    for (const auto& [id, p] : policies->all())
      absl::StrAppend(&known, known.empty() ? "" : ", ", id);
    return cmd.UsageError(
        absl::StrCat("--policy: unknown policy '", cmd.Get("policy"), "' (known: ", known, ")"));
  }

  // Split the counts over segments: PBPU Pemda are assumed active first, the rest PBI APBN.
  RegionCounts counts;
  counts.population = *population;
  counts.participants[kSegmentPbpuPemda] = *pemda;
  counts.participants[1] = *participants - *pemda;
  counts.active[kSegmentPbpuPemda] = std::min(*active, *pemda);
  counts.active[1] = *active - counts.active[kSegmentPbpuPemda];
  counts.uhc_prioritas = cmd.Flag("uhc-prioritas");
  counts.dues_paid_through = dues;

  v1::RegionTier tier;
  EvaluatePolicy(*policy, counts, &tier);
  google::protobuf::util::JsonPrintOptions json;
  json.preserve_proto_field_names = true;
  json.always_print_primitive_fields = true;
  std::string criteria;
  for (const v1::CriterionResult& c : tier.criteria()) {
    std::string one;
    (void)google::protobuf::util::MessageToJsonString(c, &one, json);
    absl::StrAppend(&criteria, criteria.empty() ? "" : ",", one);
  }
  std::cout << absl::StrCat("{\"policy\":\"", policy->id(), "\",\"tier\":\"", tier.tier(),
                            "\",\"coverage_bp\":", tier.metrics().coverage_bp(),
                            ",\"activity_bp\":", tier.metrics().activity_bp(),
                            ",\"pemda_share_bp\":", tier.metrics().pemda_share_bp(),
                            ",\"criteria\":[", criteria, "],\"next_tier\":\"", tier.next_tier(),
                            "\"}\n");
  return kExitOk;
}

}  // namespace uhc::cli
