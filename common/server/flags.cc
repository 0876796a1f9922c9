#include "common/server/flags.h"

#include "absl/flags/flag.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "common/observability/log.h"

ABSL_FLAG(std::string, tls_cert, "", "TLS certificate chain, PEM (env UHC_TLS_CERT)");
ABSL_FLAG(std::string, tls_key, "", "TLS private key, PEM (env UHC_TLS_KEY)");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA for client certificates: mutual TLS "
          "(env UHC_TLS_CLIENT_CA)");
ABSL_FLAG(bool, plaintext, false,
          "serve without TLS; required when no --tls_cert is given "
          "(env UHC_PLAINTEXT)");
ABSL_FLAG(std::string, token_file, "",
          "bearer tokens with roles, lines '<roles> <token>' (roles "
          "ingest,admin,read); empty disables per-call tokens (env UHC_TOKEN_FILE)");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1",
          "address of the /metrics endpoint "
          "(env UHC_METRICS_HOST)");
ABSL_FLAG(std::string, redis_host, "127.0.0.1", "Redis host (env UHC_REDIS_HOST)");
ABSL_FLAG(int, redis_port, 6379, "Redis port (env UHC_REDIS_PORT)");
ABSL_FLAG(std::string, redis_user, "", "Redis ACL user (env UHC_REDIS_USER)");
ABSL_FLAG(std::string, redis_password, "",
          "Redis password; prefer the environment variable "
          "UHC_REDIS_PASSWORD");
ABSL_FLAG(bool, redis_cluster, false,
          "Redis Cluster: --redis_host:--redis_port is one seed "
          "node, the slot map comes from the cluster (env UHC_REDIS_CLUSTER)");
ABSL_FLAG(std::string, health_listen, "",
          "address of a plaintext listener serving only "
          "grpc.health.v1, for kubelet gRPC probes when the main port speaks TLS; empty: none "
          "(env UHC_HEALTH_LISTEN)");
ABSL_FLAG(int, drain_seconds, 10,
          "on SIGTERM, time for in-flight calls; also the grace a "
          "connection past its maximum age gives its calls (env UHC_DRAIN_SECONDS)");
ABSL_FLAG(int, max_connection_age_seconds, 300,
          "connections are ended after this age (plus "
          "--drain_seconds of grace) so clients rebalance over new pods; streams then end with "
          "UNAVAILABLE and clients reconnect (env UHC_MAX_CONNECTION_AGE_SECONDS)");
ABSL_FLAG(int, tls_reload_seconds, 60,
          "the TLS certificate, key and client CA files are read again this often, 1-86400: a "
          "rotated certificate is served on new connections without a restart "
          "(env UHC_TLS_RELOAD_SECONDS)");
ABSL_FLAG(int, redis_timeout_ms, 2000,
          "Redis command timeout, ms: a Redis that answers nothing "
          "for this long is UNAVAILABLE (env UHC_REDIS_TIMEOUT_MS)");

namespace uhc {

void SetProjectFlagsUsage() {
  absl::FlagsUsageConfig config;
  auto ours = [](absl::string_view file) {
    return absl::StrContains(file, "-svc/main.cc") ||
           absl::StrContains(file, "common/server/flags.cc");
  };
  config.contains_help_flags = ours;
  config.contains_helpshort_flags = ours;
  absl::SetFlagsUsageConfig(config);
}

void ApplySharedServerFlags(ServerConfig* config, std::string* token_file) {
  config->tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  config->tls_key_file = absl::GetFlag(FLAGS_tls_key);
  config->tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  config->plaintext = absl::GetFlag(FLAGS_plaintext);
  config->tls_reload_interval = absl::Seconds(absl::GetFlag(FLAGS_tls_reload_seconds));
  config->metrics_host = absl::GetFlag(FLAGS_metrics_host);
  config->health_listen_address = absl::GetFlag(FLAGS_health_listen);
  config->drain_timeout = absl::Seconds(absl::GetFlag(FLAGS_drain_seconds));
  config->max_connection_age = absl::Seconds(absl::GetFlag(FLAGS_max_connection_age_seconds));
  *token_file = absl::GetFlag(FLAGS_token_file);
}

void ApplySharedRedisFlags(RedisOptions* redis) {
  redis->host = absl::GetFlag(FLAGS_redis_host);
  redis->port = absl::GetFlag(FLAGS_redis_port);
  redis->user = absl::GetFlag(FLAGS_redis_user);
  redis->password = absl::GetFlag(FLAGS_redis_password);
  redis->cluster = absl::GetFlag(FLAGS_redis_cluster);
  redis->command_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_redis_timeout_ms));
}

absl::StatusOr<std::unique_ptr<TokenAuthorizer>> LoadTokensIfConfigured(
    const std::string& token_file) {
  if (token_file.empty()) {
    LogWarning("no --token_file: calls are not authenticated (local use only)");
    return std::unique_ptr<TokenAuthorizer>();
  }
  return TokenAuthorizer::LoadFromFile(token_file);
}

}  // namespace uhc
