// uhc-backup: the logical export and import of what replaying events cannot rebuild (admin
// inputs with their dates, cut-offs, recorded tier changes). docs/RUNBOOK.md "Backups" and
// "Restore" say when and in which order.
//   uhc-backup export --out FILE     (FILE "-": standard output)
//   uhc-backup import FILE           (into an empty Redis, before classifier-svc starts)
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/config/files.h"
#include "common/redis/client.h"
#include "tools/backup/backup.h"

ABSL_FLAG(std::string, redis_host, "127.0.0.1", "Redis host (a seed node with --redis_cluster)");
ABSL_FLAG(int, redis_port, 6379, "Redis port");
ABSL_FLAG(bool, redis_cluster, false, "--redis_host:--redis_port is a node of a Redis Cluster");
ABSL_FLAG(std::string, redis_user, "",
          "Redis ACL user; the password is read from the "
          "environment variable UHC_REDIS_PASSWORD");
ABSL_FLAG(int, redis_timeout_ms, 30000, "Redis command timeout, ms");
ABSL_FLAG(std::string, data_dir, "data", "directory of provinces.csv and regencies.csv");
ABSL_FLAG(bool, rekey, false,
          "import: the target is a new keyspace under another NIK key (docs/DEPLOY.md, the NIK "
          "key): the export's key fingerprint is neither checked nor recorded");
ABSL_FLAG(std::string, out, "",
          "export: the file to write (\"-\": standard output); written "
          "to FILE.partial and renamed when complete");

namespace {

constexpr char kUsage[] =
    "uhc-backup export --out FILE | import FILE [flags]\n"
    "  export  writes what replaying events cannot rebuild (admin inputs with their dates,\n"
    "          cut-offs, recorded tier changes) as JSON Lines (proto/uhc/backup/v1)\n"
    "  import  writes an export into an empty Redis (standalone or cluster, any shard count);\n"
    "          then replay the events, then start classifier-svc (docs/RUNBOOK.md \"Restore\")";

int Fail(const std::string& what) {
  std::cerr << "uhc-backup: " << what << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "tools/backup/");
  };
  absl::SetFlagsUsageConfig(config);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return Fail(std::string("give a command.\n") + kUsage);
  const std::string command = args[1];

  absl::StatusOr<uhc::RegionRegistry> regions = uhc::LoadRegions(absl::GetFlag(FLAGS_data_dir));
  if (!regions.ok()) return Fail(std::string(regions.status().message()));
  uhc::RedisOptions options;
  options.host = absl::GetFlag(FLAGS_redis_host);
  options.port = absl::GetFlag(FLAGS_redis_port);
  options.cluster = absl::GetFlag(FLAGS_redis_cluster);
  options.user = absl::GetFlag(FLAGS_redis_user);
  if (const char* password = std::getenv("UHC_REDIS_PASSWORD")) options.password = password;
  options.command_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_redis_timeout_ms));
  std::unique_ptr<uhc::RedisClient> redis = uhc::MakeRedisClient(options);

  if (command == "export") {
    const std::string out = absl::GetFlag(FLAGS_out);
    if (out.empty()) return Fail("export: give --out FILE (\"-\" for standard output)");
    if (args.size() != 2) return Fail("export: takes no arguments but --out");
    absl::StatusOr<uhc::backup::Counts> counts;
    if (out == "-") {
      counts = uhc::backup::Export(*redis, *regions, absl::Now(), std::cout);
    } else {
      const std::string partial = out + ".partial";
      {
        std::ofstream file(partial, std::ios::binary | std::ios::trunc);
        if (!file) return Fail("export: cannot write " + partial);
        counts = uhc::backup::Export(*redis, *regions, absl::Now(), file);
      }
      if (counts.ok() && std::rename(partial.c_str(), out.c_str()) != 0) {
        return Fail("export: cannot rename " + partial + " to " + out);
      }
      if (!counts.ok()) std::remove(partial.c_str());
    }
    if (!counts.ok()) return Fail("export: " + counts.status().ToString());
    std::cerr << "uhc-backup: exported " << counts->Summary() << "\n";
    return 0;
  }
  if (command == "import") {
    if (args.size() != 3) return Fail("import: give the export FILE");
    absl::StatusOr<std::string> text = uhc::ReadWholeFile(args[2]);
    if (!text.ok()) return Fail("import: " + std::string(text.status().message()));
    absl::StatusOr<uhc::backup::Counts> counts =
        uhc::backup::Import(*redis, *regions, *text, absl::GetFlag(FLAGS_rekey));
    if (!counts.ok()) {
      // The checks come before the first write; a failure while writing may leave part of it.
      const bool checked =
          absl::IsInvalidArgument(counts.status()) || absl::IsFailedPrecondition(counts.status());
      return Fail("import: " + counts.status().ToString() +
                  (checked ? "; nothing written"
                           : "; the target may hold part of the export: flush it and import "
                             "again"));
    }
    std::cerr << "uhc-backup: imported " << counts->Summary() << "\n";
    return 0;
  }
  return Fail("unknown command '" + command + "'.\n" + kUsage);
}
