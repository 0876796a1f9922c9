#include "common/domain/policy_set.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/domain/policy.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace uhc {
namespace {

// Collects the first TextFormat error with its position (lines reported from 1).
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (text_.empty()) text_ = absl::StrFormat("%d:%d: %s", line + 1, column + 1, message);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

absl::Status Invalid(const std::string& filename, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(filename, ": ", what));
}

absl::Status ValidateCriterion(const v1::Criterion& c, const std::string& filename,
                               const std::string& where) {
  if (c.metric() == v1::METRIC_UNSPECIFIED) return Invalid(filename, where + ": metric not set");
  if (c.min_bp() < 0 || c.min_bp() > 100000) {
    return Invalid(filename, absl::StrCat(where, ": min_bp ", c.min_bp(), " is not 0..100000"));
  }
  if (c.has_waived_when()) return ValidateCriterion(c.waived_when(), filename, where + ".waiver");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::PolicyConfig> ParsePolicy(absl::string_view text, const std::string& filename) {
  v1::PolicyConfig policy;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &policy)) {
    return absl::InvalidArgumentError(absl::StrCat(filename, ":", errors.text()));
  }
  if (absl::Status s = ValidatePolicy(policy, filename); !s.ok()) return s;
  return policy;
}

absl::Status ValidatePolicy(const v1::PolicyConfig& policy, const std::string& filename) {
  if (policy.id().empty()) return Invalid(filename, "id is required");
  if (policy.activity_denominator() == v1::ACTIVITY_DENOMINATOR_UNSPECIFIED) {
    return Invalid(filename, "activity_denominator is required (POPULATION or PARTICIPANTS)");
  }
  if (policy.tiers().empty()) return Invalid(filename, "at least one tier is required");
  if (policy.pemda_monthly_cost_idr() < 0) {
    return Invalid(filename, "pemda_monthly_cost_idr must be >= 0");
  }
  std::set<std::string> ids;
  for (const v1::TierRule& tier : policy.tiers()) {
    if (tier.id().empty() || tier.id() == kNoTier) {
      return Invalid(filename, absl::StrCat("tier id '", tier.id(), "' is not allowed"));
    }
    if (!ids.insert(tier.id()).second) {
      return Invalid(filename, absl::StrCat("duplicate tier id '", tier.id(), "'"));
    }
    if (tier.alternative().empty()) {
      return Invalid(filename, absl::StrCat("tier '", tier.id(), "' has no alternative"));
    }
    for (int g = 0; g < tier.alternative_size(); ++g) {
      std::string where = absl::StrCat("tier '", tier.id(), "' alternative ", g);
      if (tier.alternative(g).criterion().empty()) return Invalid(filename, where + " is empty");
      for (const v1::Criterion& c : tier.alternative(g).criterion()) {
        if (absl::Status s = ValidateCriterion(c, filename, where); !s.ok()) return s;
      }
    }
  }
  for (const v1::Requirement& req : policy.requirements()) {
    if (req.requirement_case() == v1::Requirement::REQUIREMENT_NOT_SET) {
      return Invalid(filename, "empty requirement");
    }
    if (req.has_dues_paid_through() && ParseYearMonth(req.dues_paid_through()) == 0) {
      return Invalid(filename, absl::StrCat("dues_paid_through '", req.dues_paid_through(),
                                            "' is not YYYY-MM"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PolicySet> PolicySet::FromPolicies(std::vector<v1::PolicyConfig> policies) {
  PolicySet set;
  for (v1::PolicyConfig& p : policies) {
    if (p.default_()) {
      if (!set.default_id_.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("two default policies: ", set.default_id_, " and ", p.id()));
      }
      set.default_id_ = p.id();
    }
    std::string id = p.id();
    if (!set.policies_.emplace(id, std::move(p)).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate policy id ", id));
    }
  }
  if (set.policies_.empty()) return absl::InvalidArgumentError("no policies loaded");
  if (set.default_id_.empty()) set.default_id_ = set.policies_.begin()->first;
  return set;
}

const v1::PolicyConfig* PolicySet::Find(absl::string_view id) const {
  if (id.empty()) id = default_id_;
  auto it = policies_.find(id);
  return it == policies_.end() ? nullptr : &it->second;
}

}  // namespace uhc
