#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "uhc/v1/policy.pb.h"

namespace uhc {

// Parses and validates one policy file's text. Errors name `filename` and, for syntax errors and
// unknown fields or enum values, the line and column ("uhc-2023.textproto:12:5: ...").
absl::StatusOr<v1::PolicyConfig> ParsePolicy(absl::string_view text, const std::string& filename);

// Checks a parsed policy: ids, tiers, criteria, thresholds, months. Errors name `filename`.
absl::Status ValidatePolicy(const v1::PolicyConfig& policy, const std::string& filename);

// The loaded policies, by id. Immutable after loading; safe to share between threads.
class PolicySet {
 public:
  // Adds policies; fails on a duplicate id or on more than one default.
  static absl::StatusOr<PolicySet> FromPolicies(std::vector<v1::PolicyConfig> policies);

  // nullptr if unknown. An empty id means the default policy.
  const v1::PolicyConfig* Find(absl::string_view id) const;
  const v1::PolicyConfig& default_policy() const { return policies_.at(default_id_); }
  const std::string& default_id() const { return default_id_; }
  // Ordered by id.
  const std::map<std::string, v1::PolicyConfig, std::less<>>& all() const { return policies_; }

 private:
  std::map<std::string, v1::PolicyConfig, std::less<>> policies_;
  std::string default_id_;
};

}  // namespace uhc
