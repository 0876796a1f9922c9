#pragma once

// The service's configuration read from files and the environment: the only file reading behind
// the pure domain (regions, policies, the NIK secret).

#include <string>

#include "absl/status/statusor.h"
#include "common/domain/policy_set.h"
#include "common/domain/regions.h"

namespace uhc {

// Reads <dir>/provinces.csv and <dir>/regencies.csv, then RegionRegistry::FromCsv.
absl::StatusOr<RegionRegistry> LoadRegions(const std::string& dir);

// Reads every *.textproto in `dir` (in name order), then PolicySet::FromPolicies.
absl::StatusOr<PolicySet> LoadPolicies(const std::string& dir);

// The NIK HMAC secret: from `path` if not empty (trailing newline dropped), else from the
// environment variable `env_var`.
absl::StatusOr<std::string> LoadSecret(const std::string& path, const char* env_var);

// A whole file.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace uhc
