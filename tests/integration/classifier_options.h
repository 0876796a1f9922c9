#pragma once

#include "classifier-svc/classifier_server.h"
#include "tests/support/redis_server.h"

namespace uhc::testing {

// An in-process classifier-svc for tests: plaintext on a free loopback port, no metrics port,
// the repository's regions and policies, against `redis`.
inline ClassifierServerOptions TestClassifierOptions(const RedisServer& redis) {
  ClassifierServerOptions options;
  options.server.listen_address = "127.0.0.1:0";
  options.server.metrics_port = -1;
  options.server.plaintext = true;
  options.redis = redis.options();
  options.data_dir = UHC_SOURCE_DIR "/data";
  options.policy_dir = UHC_SOURCE_DIR "/config/policies";
  return options;
}

}  // namespace uhc::testing
