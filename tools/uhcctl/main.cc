// uhcctl: the command-line tool of the UHC tier service. See `uhcctl --help`.
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "tools/uhcctl/commands.h"

namespace uhc::cli {

std::string PolicyDirDefault() {
  const char* dir = std::getenv("UHC_POLICY_DIR");
  return dir != nullptr ? dir : "config/policies";
}

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  std::function<int(const std::vector<std::string>&)> run;
};

const std::vector<Subcommand>& Subcommands() {
  static const std::vector<Subcommand> commands = {
      {"evaluate", "evaluate a tier policy on figures given as flags (offline)", RunEvaluate},
      {"ingest", "stream a JSON Lines file of participant events", RunIngest},
      {"population", "import official populations from CSV", RunPopulation},
      {"region-status", "set UHC Prioritas and dues paid-through", RunRegionStatus},
      {"cutoff", "freeze the figures as of a day under an id; list cut-offs", RunCutoff},
      {"tier", "the tier of one region, why, and what the next lacks", RunTier},
      {"tiers", "tiers of many regions (table, csv, json)", RunTiers},
      {"plan", "people and rupiah to reach a tier", RunPlan},
      {"watch", "stream tier changes", RunWatch},
      {"history", "recorded tier changes of a region", RunHistory},
      {"trend", "a region's figures and tier month by month (or day by day)", RunTrend},
      {"summary", "the national picture and the closest regions' plans", RunSummary},
      {"report", "write a self-contained HTML page of the national picture", RunReport},
      {"awards", "who holds which tier as of a day or cut-off (table, csv, html)", RunAwards},
      {"gen", "write a synthetic national dataset (seeded)", RunGen},
      {"health", "readiness and liveness of both services", RunHealth},
  };
  return commands;
}

int Help(std::ostream& out) {
  out << "uhcctl: the command-line tool of the UHC tier service (BPJS Kesehatan JKN coverage\n"
         "tiers of Indonesia's 38 provinces and 514 kab/kota).\n\n"
         "Usage: uhcctl COMMAND [options]     uhcctl COMMAND --help for a command's options\n\n"
         "Commands:\n";
  for (const Subcommand& c : Subcommands()) {
    out << "  " << c.name << std::string(20 - std::string(c.name).size(), ' ') << c.summary << "\n";
  }
  out << "\nExit codes: 0 success, 1 the operation failed (e.g. events rejected), 2 bad input.\n"
         "Environment: UHC_POLICY_DIR (policy directory), UHC_ENROLLMENT_ADDR and\n"
         "UHC_CLASSIFIER_ADDR (service addresses), UHC_TOKEN (bearer token sent with every\n"
         "call), UHC_TLS_CA (CA file: use TLS) with UHC_TLS_CERT and UHC_TLS_KEY (mutual TLS).\n";
  return kExitOk;
}

}  // namespace
}  // namespace uhc::cli

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    return uhc::cli::Help(args.empty() ? std::cerr : std::cout) == 0 && args.empty()
               ? uhc::cli::kExitUsage
               : uhc::cli::kExitOk;
  }
  for (const auto& c : uhc::cli::Subcommands()) {
    if (args[0] == c.name) return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::cerr << "uhcctl: unknown command '" << args[0] << "' (see uhcctl --help)\n";
  return uhc::cli::kExitUsage;
}
