#pragma once

#include <string>
#include <vector>

#include "tools/uhcctl/cli.h"

namespace uhc::cli {

// $UHC_POLICY_DIR or "config/policies".
std::string PolicyDirDefault();

// Each subcommand: args after its name; returns the process exit code.
int RunEvaluate(const std::vector<std::string>& args);
int RunIngest(const std::vector<std::string>& args);
int RunPopulation(const std::vector<std::string>& args);
int RunRegionStatus(const std::vector<std::string>& args);
int RunCutoff(const std::vector<std::string>& args);
int RunTier(const std::vector<std::string>& args);
int RunTiers(const std::vector<std::string>& args);
int RunPlan(const std::vector<std::string>& args);
int RunWatch(const std::vector<std::string>& args);
int RunHistory(const std::vector<std::string>& args);
int RunTrend(const std::vector<std::string>& args);
int RunAwards(const std::vector<std::string>& args);
int RunGen(const std::vector<std::string>& args);
int RunSummary(const std::vector<std::string>& args);
int RunReport(const std::vector<std::string>& args);
int RunHealth(const std::vector<std::string>& args);

}  // namespace uhc::cli
