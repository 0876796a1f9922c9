// classifier-svc: UHC tiers of every region from the live aggregates. See --help.
#include <algorithm>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "classifier-svc/classifier_server.h"
#include "common/observability/log.h"
#include "common/server/flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50052", "gRPC listen address (env UHC_LISTEN)");
ABSL_FLAG(int, metrics_port, 9102,
          "Prometheus /metrics port on --metrics_host; -1 disables "
          "(env UHC_METRICS_PORT)");
ABSL_FLAG(std::string, data_dir, "data",
          "directory with provinces.csv and regencies.csv "
          "(env UHC_DATA_DIR)");
ABSL_FLAG(std::string, policy_dir, "config/policies",
          "directory of *.textproto tier policies "
          "(env UHC_POLICY_DIR)");
ABSL_FLAG(int, refresh_ms, 200, "snapshot refresh period, ms (env UHC_REFRESH_MS)");
ABSL_FLAG(int, max_stale_seconds, 300,
          "while Redis (or one shard) cannot be read, the last snapshot is served marked stale "
          "and the service stays ready until the snapshot is this old, 1-86400 "
          "(env UHC_MAX_STALE_SECONDS)");
ABSL_FLAG(int, watch_resume_window_hours, 168,
          "how long the tier change log keeps changes, "
          "so WatchTierChanges resume tokens stay valid; at least 1 "
          "(env UHC_WATCH_RESUME_WINDOW_HOURS)");
ABSL_FLAG(int, past_read_threads, 4,
          "threads (each with its Redis connection) reading Redis for as-of, cut-off, trend, "
          "ListTierChanges and watch-resume calls (env UHC_PAST_READ_THREADS)");
ABSL_FLAG(int, past_read_queue, 256,
          "such reads waiting for a thread, all callers together; beyond: RESOURCE_EXHAUSTED "
          "(env UHC_PAST_READ_QUEUE)");
ABSL_FLAG(int, past_reads_per_caller, 2,
          "threads one caller (a connection, or a token when --token_file is set) may hold at "
          "once; below --past_read_threads, one caller never holds them all (several heavy callers "
          "together may; another caller then waits at most one task) "
          "(env UHC_PAST_READS_PER_CALLER)");
ABSL_FLAG(int, past_read_queue_per_caller, 16,
          "reads one caller may have waiting; beyond: RESOURCE_EXHAUSTED for that caller only "
          "(env UHC_PAST_READ_QUEUE_PER_CALLER)");
ABSL_FLAG(int, max_watch_streams, 1000,
          "WatchTierChanges streams this replica serves at once; beyond: RESOURCE_EXHAUSTED "
          "(env UHC_MAX_WATCH_STREAMS)");
ABSL_FLAG(int, watch_max_queued_changes, 10000,
          "changes one watcher may fall behind before its stream ends with RESOURCE_EXHAUSTED "
          "(it resumes with its token) (env UHC_WATCH_MAX_QUEUED_CHANGES)");
ABSL_FLAG(int, watch_max_queued_kib, 1024,
          "KiB of changes one watcher may fall behind, likewise "
          "(env UHC_WATCH_MAX_QUEUED_KIB)");
ABSL_FLAG(int, keepalive_seconds, 10,
          "WatchTierChanges keep-alive period "
          "(env UHC_KEEPALIVE_SECONDS)");

int main(int argc, char** argv) {
  uhc::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "classifier-svc: answers uhc.v1.ClassifierService (tiers, reasons, plans, changes) from an\n"
      "in-memory snapshot of every region's aggregates, refreshed from Redis.\n"
      "Every flag can also be set by the environment variable UHC_<FLAG> (upper case);\n"
      "the command line wins.");
  uhc::SetProjectFlagsUsage();
  uhc::ApplyEnvironmentToFlags();
  absl::ParseCommandLine(argc, argv);
  uhc::ClassifierServerOptions options;
  options.server.listen_address = absl::GetFlag(FLAGS_listen);
  options.server.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  ApplySharedServerFlags(&options.server, &options.token_file);
  ApplySharedRedisFlags(&options.redis);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.policy_dir = absl::GetFlag(FLAGS_policy_dir);
  options.refresh_interval = absl::Milliseconds(absl::GetFlag(FLAGS_refresh_ms));
  options.keepalive_interval = absl::Seconds(absl::GetFlag(FLAGS_keepalive_seconds));
  options.resume_window = absl::Hours(absl::GetFlag(FLAGS_watch_resume_window_hours));
  options.max_stale = absl::Seconds(absl::GetFlag(FLAGS_max_stale_seconds));
  // Negative values become 0 (or huge), which Start refuses with the flags' names.
  options.past_reads.threads = absl::GetFlag(FLAGS_past_read_threads);
  options.past_reads.max_queue = std::max(0, absl::GetFlag(FLAGS_past_read_queue));
  options.past_reads.max_running_per_caller = absl::GetFlag(FLAGS_past_reads_per_caller);
  options.past_reads.max_queued_per_caller =
      std::max(0, absl::GetFlag(FLAGS_past_read_queue_per_caller));
  options.watch.max_streams = std::max(0, absl::GetFlag(FLAGS_max_watch_streams));
  options.watch.max_queued_changes = std::max(0, absl::GetFlag(FLAGS_watch_max_queued_changes));
  options.watch.max_queued_bytes =
      static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_watch_max_queued_kib))) * 1024;
  auto server = uhc::ClassifierServer::Start(options);
  if (!server.ok()) {
    uhc::LogError("cannot start classifier-svc", {{"error", server.status().message()}});
    return 1;
  }
  uhc::ServerHost::WaitForTermination();
  (*server)->Shutdown();
  uhc::LogInfo("classifier-svc stopped");
  return 0;
}
