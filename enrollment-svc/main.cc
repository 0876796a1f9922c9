// enrollment-svc: applies participant events to Redis. See --help.
#include <cstdlib>
#include <memory>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/config/files.h"
#include "common/observability/log.h"
#include "common/server/flags.h"
#include "enrollment-svc/enrollment_server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "gRPC listen address (env UHC_LISTEN)");
ABSL_FLAG(int, metrics_port, 9101,
          "Prometheus /metrics port on --metrics_host; -1 disables "
          "(env UHC_METRICS_PORT)");
ABSL_FLAG(std::string, data_dir, "data",
          "directory with provinces.csv and regencies.csv "
          "(env UHC_DATA_DIR)");
ABSL_FLAG(std::string, hmac_secret_file, "",
          "file holding the NIK HMAC secret (>= 16 bytes); "
          "when empty the secret comes from env UHC_NIK_HMAC_SECRET (env UHC_HMAC_SECRET_FILE)");
ABSL_FLAG(int, bucket_bits, 8,
          "participant buckets per region = 2^bits; fixed for the life of "
          "the data: Redis remembers it and a different value is refused (env UHC_BUCKET_BITS)");
ABSL_FLAG(int, max_participants_per_bucket, 768,
          "participants a kab/kota's bucket is sized for, 1-1024 (Redis keeps a bucket compact "
          "up to 1,024): SetPopulation refuses a kab/kota figure above 2^bucket_bits times this "
          "(env UHC_MAX_PARTICIPANTS_PER_BUCKET)");
ABSL_FLAG(int, max_batch_events, 10000, "events per batch limit (env UHC_MAX_BATCH_EVENTS)");
ABSL_FLAG(int, events_per_call, 8000,
          "events per Redis function call, 1-30000 (a relocation counts once); batches arriving "
          "together are applied together up to this many (env UHC_EVENTS_PER_CALL)");
ABSL_FLAG(int, concurrent_groups, 4,
          "groups of batches applied at once, 1-16 (at most --redis_threads run at once): one "
          "may go while another waits for its relocations' follow-ups "
          "(env UHC_CONCURRENT_GROUPS)");
ABSL_FLAG(
    std::string, apply_engine, "auto",
    "what applies events in Redis: `function` (the Lua function uhc_apply_v3), `module` "
    "(the command of uhc_module.so, loaded into Redis with --loadmodule: the same result "
    "with less Redis CPU) or `auto` (the module while Redis has it; without it, the function, "
    "trying the module again every minute) "
    "(env UHC_APPLY_ENGINE)");
ABSL_FLAG(int, redis_threads, 4,
          "Redis worker threads, one connection each "
          "(env UHC_REDIS_THREADS)");
ABSL_FLAG(int, queue_limit, 256,
          "queued Redis tasks before RESOURCE_EXHAUSTED "
          "(env UHC_QUEUE_LIMIT)");
ABSL_FLAG(int, redis_wait_replicas, 0,
          "acknowledge writes only after this many Redis replicas "
          "confirmed them (WAIT), so a failover loses nothing acked; 0 does not wait "
          "(env UHC_REDIS_WAIT_REPLICAS)");
ABSL_FLAG(int, max_future_skew_seconds, 300,
          "events whose event_time is further ahead of this server's clock are rejected "
          "(env UHC_MAX_FUTURE_SKEW_SECONDS)");
ABSL_FLAG(int, max_message_mb, 64, "largest request, MiB (env UHC_MAX_MESSAGE_MB)");
ABSL_FLAG(int, enroll_idempotency_hours, 168,
          "hours an Enroll request_id is kept with what it stands for: a reuse with other content "
          "within them is ALREADY_EXISTS; at least 1 (env UHC_ENROLL_IDEMPOTENCY_HOURS)");
ABSL_FLAG(int, history_days, 800,
          "days of per-day history kept for as-of answers, trends and cut-offs; at least 731, "
          "or 0 to keep everything; events that occurred before the window are rejected (env "
          "UHC_HISTORY_DAYS)");

namespace uhc {
namespace {

int Run() {
  EnrollmentServerOptions options;
  options.server.listen_address = absl::GetFlag(FLAGS_listen);
  options.server.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  options.server.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  ApplySharedServerFlags(&options.server, &options.token_file);
  ApplySharedRedisFlags(&options.redis);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.bucket_bits = absl::GetFlag(FLAGS_bucket_bits);
  options.max_participants_per_bucket = absl::GetFlag(FLAGS_max_participants_per_bucket);
  options.limits.max_events_per_batch = absl::GetFlag(FLAGS_max_batch_events);
  options.limits.events_per_redis_call = absl::GetFlag(FLAGS_events_per_call);
  options.limits.concurrent_groups = absl::GetFlag(FLAGS_concurrent_groups);
  options.limits.wait_replicas = absl::GetFlag(FLAGS_redis_wait_replicas);
  const std::string engine = absl::GetFlag(FLAGS_apply_engine);
  std::optional<ApplyEngine> apply_engine = ParseApplyEngine(engine);
  if (!apply_engine) {
    LogError("--apply_engine must be function, module or auto", {{"value", engine}});
    return 2;
  }
  options.limits.apply_engine = *apply_engine;
  const int idempotency_hours = absl::GetFlag(FLAGS_enroll_idempotency_hours);
  if (idempotency_hours < 1) {
    LogError("--enroll_idempotency_hours must be at least 1", {{"value", idempotency_hours}});
    return 2;
  }
  options.limits.enroll_idempotency = absl::Hours(idempotency_hours);
  options.redis_threads = absl::GetFlag(FLAGS_redis_threads);
  options.queue_limit = static_cast<size_t>(absl::GetFlag(FLAGS_queue_limit));
  options.max_future_skew = absl::Seconds(absl::GetFlag(FLAGS_max_future_skew_seconds));
  options.history_days = absl::GetFlag(FLAGS_history_days);
  absl::StatusOr<std::string> secret =
      LoadSecret(absl::GetFlag(FLAGS_hmac_secret_file), "UHC_NIK_HMAC_SECRET");
  if (!secret.ok()) {
    LogError("cannot read the NIK HMAC secret", {{"error", secret.status().message()}});
    return 2;
  }
  options.hmac_secret = *secret;
  absl::StatusOr<std::unique_ptr<EnrollmentServer>> server =
      EnrollmentServer::Start(std::move(options));
  if (!server.ok()) {
    LogError("cannot start enrollment-svc", {{"error", server.status().message()}});
    return 1;
  }
  ServerHost::WaitForTermination();
  (*server)->Shutdown();
  LogInfo("enrollment-svc stopped");
  return 0;
}

}  // namespace
}  // namespace uhc

int main(int argc, char** argv) {
  uhc::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "enrollment-svc: applies JKN participant events (uhc.v1.EnrollmentService) and region\n"
      "settings (uhc.v1.RegionAdminService) to Redis, atomically per region and idempotently.\n"
      "Every flag can also be set by the environment variable UHC_<FLAG> (upper case);\n"
      "the command line wins. The NIK HMAC secret: --hmac_secret_file or UHC_NIK_HMAC_SECRET.");
  uhc::SetProjectFlagsUsage();
  uhc::ApplyEnvironmentToFlags();
  absl::ParseCommandLine(argc, argv);
  return uhc::Run();
}
