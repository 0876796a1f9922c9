#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/redis/client.h"
#include "common/server/auth.h"
#include "common/server/host.h"

namespace uhc {

// The flags both services share (--tls_cert, --tls_key, --tls_client_ca, --plaintext,
// --health_listen,
// --token_file, --metrics_host, --drain_seconds), defined once in common/server/flags.cc.
void ApplySharedServerFlags(ServerConfig* config, std::string* token_file);

// The Redis flags both services share (--redis_host, --redis_port, --redis_user,
// --redis_password, --redis_cluster).
void ApplySharedRedisFlags(RedisOptions* redis);

// Makes --help list the project's flags (the services' own and the shared ones above); absl's
// default only lists flags of a file named after the program.
void SetProjectFlagsUsage();

// The authorizer of `token_file`, or null (with a warning: calls unauthenticated) when empty.
absl::StatusOr<std::unique_ptr<TokenAuthorizer>> LoadTokensIfConfigured(
    const std::string& token_file);

}  // namespace uhc
