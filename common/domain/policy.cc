#include "common/domain/policy.h"

#include <limits>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace uhc {
namespace {

// Products of figures and basis points or rupiah are taken in 128 bits: with int64 figures they
// cannot overflow there, and results beyond int64 are held at its limits.
int64_t Clamp128(absl::int128 v) {
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

const char* MetricName(v1::Metric metric) {
  switch (metric) {
    case v1::METRIC_COVERAGE:
      return "coverage";
    case v1::METRIC_ACTIVITY:
      return "activity";
    case v1::METRIC_PEMDA_SHARE:
      return "pemda_share";
    default:
      return "unknown";
  }
}

std::string Percent(int64_t bp) { return absl::StrFormat("%d.%02d%%", bp / 100, bp % 100); }

std::string DescribeCriterion(const v1::Criterion& c) {
  std::string text = absl::StrCat(MetricName(c.metric()), " >= ", Percent(c.min_bp()));
  if (c.has_waived_when()) {
    absl::StrAppend(&text, " (waived when ", DescribeCriterion(c.waived_when()), ")");
  }
  return text;
}

// Numerator and denominator of a ratio metric.
struct Ratio {
  int64_t num;
  int64_t den;
};

Ratio RatioOf(const v1::PolicyConfig& policy, v1::Metric metric, const RegionCounts& counts) {
  switch (metric) {
    case v1::METRIC_COVERAGE:
      return {counts.Participants(), counts.population};
    case v1::METRIC_ACTIVITY:
      return {counts.Active(), ActivityDenominator(policy, counts)};
    case v1::METRIC_PEMDA_SHARE:
      return {counts.PemdaRegistered(), counts.population};
    default:
      return {0, 0};
  }
}

bool CriterionHolds(const v1::PolicyConfig& policy, const v1::Criterion& c,
                    const RegionCounts& counts) {
  Ratio r = RatioOf(policy, c.metric(), counts);
  return MeetsThreshold(r.num, r.den, c.min_bp());
}

// People to add to the numerator, denominator fixed: ceil(min_bp * den / 10000) - num.
int64_t Shortfall(Ratio r, int64_t min_bp) {
  if (r.den == 0) return -1;
  int64_t needed = CeilBasisPointsOf(min_bp, r.den);
  return needed > r.num ? SaturatingSub(needed, r.num) : 0;
}

v1::CriterionResult EvaluateCriterion(const v1::PolicyConfig& policy, const v1::Criterion& c,
                                      const std::string& tier, int group,
                                      const RegionCounts& counts) {
  v1::CriterionResult result;
  Ratio r = RatioOf(policy, c.metric(), counts);
  bool own = MeetsThreshold(r.num, r.den, c.min_bp());
  bool waived = !own && c.has_waived_when() && CriterionHolds(policy, c.waived_when(), counts);
  result.set_tier(tier);
  result.set_group(group);
  result.set_metric(MetricName(c.metric()));
  result.set_description(DescribeCriterion(c));
  result.set_required(c.min_bp());
  result.set_actual(BasisPoints(r.num, r.den));
  result.set_met(own || waived);
  result.set_waived(waived);
  result.set_shortfall_people(own || waived ? 0 : Shortfall(r, c.min_bp()));
  return result;
}

v1::CriterionResult EvaluateRequirement(const v1::Requirement& req, const RegionCounts& counts) {
  v1::CriterionResult result;
  result.set_description(DescribeRequirement(req));
  if (req.has_dues_paid_through()) {
    // Months travel as "YYYY-MM" strings (required_month, actual_month), compared as YYYYMM.
    const int64_t required = ParseYearMonth(req.dues_paid_through());
    result.set_metric("dues_paid_through");
    result.set_required_month(req.dues_paid_through());
    if (counts.dues_paid_through > 0) {
      result.set_actual_month(absl::StrFormat("%04d-%02d", counts.dues_paid_through / 100,
                                              counts.dues_paid_through % 100));
    }
    result.set_met(counts.dues_paid_through >= required);
  } else {
    result.set_metric("uhc_prioritas");
    result.set_required(req.uhc_prioritas() ? 1 : 0);
    result.set_actual(counts.uhc_prioritas ? 1 : 0);
    result.set_met(result.actual() >= result.required());
  }
  result.set_shortfall_people(result.met() ? 0 : -1);
  return result;
}

}  // namespace

int64_t BasisPoints(int64_t num, int64_t den) {
  return den == 0 ? 0 : Clamp128(absl::int128(num) * 10000 / den);
}

bool MeetsThreshold(int64_t num, int64_t den, int64_t min_bp) {
  return den != 0 && absl::int128(num) * 10000 >= absl::int128(min_bp) * den;
}

int64_t CeilBasisPointsOf(int64_t min_bp, int64_t den) {
  return Clamp128((absl::int128(min_bp) * den + 9999) / 10000);
}

int64_t YearlyCostIdr(int64_t people, int64_t monthly_cost_idr) {
  return Clamp128(absl::int128(people) * monthly_cost_idr * 12);
}

int ParseYearMonth(const std::string& text) {
  if (text.size() != 7 || text[4] != '-') return 0;
  int value = 0;
  for (int i : {0, 1, 2, 3, 5, 6}) {
    if (text[i] < '0' || text[i] > '9') return 0;
    value = value * 10 + (text[i] - '0');
  }
  int month = value % 100;
  return month >= 1 && month <= 12 ? value : 0;
}

int64_t ActivityDenominator(const v1::PolicyConfig& policy, const RegionCounts& counts) {
  return policy.activity_denominator() == v1::ACTIVITY_DENOMINATOR_PARTICIPANTS
             ? counts.Participants()
             : counts.population;
}

void FillMetrics(const v1::PolicyConfig& policy, const RegionCounts& counts, v1::RegionMetrics* m) {
  m->set_population(counts.population);
  m->set_participants(counts.Participants());
  m->set_active(counts.Active());
  m->set_pemda_registered(counts.PemdaRegistered());
  m->set_coverage_bp(BasisPoints(counts.Participants(), counts.population));
  m->set_activity_bp(BasisPoints(counts.Active(), ActivityDenominator(policy, counts)));
  m->set_pemda_share_bp(BasisPoints(counts.PemdaRegistered(), counts.population));
  for (int s = 1; s < kSegmentSlots; ++s) {
    const std::string& name = v1::Segment_Name(static_cast<v1::Segment>(s));
    (*m->mutable_participants_by_segment())[name] = counts.participants[s];
    (*m->mutable_active_by_segment())[name] = counts.active[s];
  }
  m->set_uhc_prioritas(counts.uhc_prioritas);
  m->set_dues_paid_through(counts.dues_paid_through == 0
                               ? ""
                               : absl::StrFormat("%04d-%02d", counts.dues_paid_through / 100,
                                                 counts.dues_paid_through % 100));
}

int TierIndex(const v1::PolicyConfig& policy, const std::string& tier_id) {
  for (int i = 0; i < policy.tiers_size(); ++i) {
    if (policy.tiers(i).id() == tier_id) return i;
  }
  return -1;
}

bool GroupMet(const v1::PolicyConfig& policy, const v1::CriteriaGroup& group,
              const RegionCounts& counts) {
  for (const v1::Criterion& c : group.criterion()) {
    if (!CriterionHolds(policy, c, counts) &&
        !(c.has_waived_when() && CriterionHolds(policy, c.waived_when(), counts))) {
      return false;
    }
  }
  return true;
}

bool TierCriteriaMet(const v1::PolicyConfig& policy, int tier_index, const RegionCounts& counts) {
  for (const v1::CriteriaGroup& group : policy.tiers(tier_index).alternative()) {
    if (GroupMet(policy, group, counts)) return true;
  }
  return false;
}

void EvaluatePolicy(const v1::PolicyConfig& policy, const RegionCounts& counts,
                    v1::RegionTier* out) {
  out->set_policy_id(policy.id());
  FillMetrics(policy, counts, out->mutable_metrics());
  out->clear_criteria();
  out->clear_next_tier_lacks();

  std::vector<v1::CriterionResult> unmet_requirements;
  for (const v1::Requirement& req : policy.requirements()) {
    v1::CriterionResult r = EvaluateRequirement(req, counts);
    if (!r.met()) unmet_requirements.push_back(r);
    *out->add_criteria() = std::move(r);
  }

  // Per tier: whether met, and the unmet criteria of its most nearly met alternative.
  int held = -1;
  std::vector<std::vector<v1::CriterionResult>> lacks(policy.tiers_size());
  for (int t = 0; t < policy.tiers_size(); ++t) {
    const v1::TierRule& tier = policy.tiers(t);
    bool met = false;
    int64_t best_cost = std::numeric_limits<int64_t>::max();
    for (int g = 0; g < tier.alternative_size(); ++g) {
      std::vector<v1::CriterionResult> unmet;
      int64_t cost = 0;
      for (const v1::Criterion& c : tier.alternative(g).criterion()) {
        v1::CriterionResult r = EvaluateCriterion(policy, c, tier.id(), g, counts);
        if (!r.met()) {
          cost = SaturatingAdd(cost, r.shortfall_people() < 0 ? std::numeric_limits<int32_t>::max()
                                                              : r.shortfall_people());
          unmet.push_back(r);
        }
        *out->add_criteria() = std::move(r);
      }
      if (unmet.empty()) met = true;
      if (cost < best_cost) {
        best_cost = cost;
        lacks[t] = std::move(unmet);
      }
    }
    if (met && unmet_requirements.empty() && held < 0) held = t;
  }

  if (held >= 0) {
    out->set_tier(policy.tiers(held).id());
    out->set_tier_name(policy.tiers(held).name());
  } else {
    out->set_tier(kNoTier);
    out->set_tier_name("No tier");
  }
  int next = held < 0 ? policy.tiers_size() - 1 : held - 1;
  if (next >= 0) {
    out->set_next_tier(policy.tiers(next).id());
    for (const v1::CriterionResult& r : unmet_requirements) *out->add_next_tier_lacks() = r;
    for (const v1::CriterionResult& r : lacks[next]) *out->add_next_tier_lacks() = r;
  } else {
    out->clear_next_tier();
  }
}

std::string DescribeTier(const v1::TierRule& tier) {
  std::vector<std::string> alternatives;
  for (const v1::CriteriaGroup& group : tier.alternative()) {
    std::vector<std::string> parts;
    for (const v1::Criterion& c : group.criterion()) parts.push_back(DescribeCriterion(c));
    alternatives.push_back(absl::StrJoin(parts, " and "));
  }
  if (alternatives.size() == 1) return alternatives[0];
  return absl::StrCat("(", absl::StrJoin(alternatives, ") or ("), ")");
}

std::string DescribeRequirement(const v1::Requirement& req) {
  if (req.has_dues_paid_through()) {
    return absl::StrCat("PBPU Pemda dues paid through ", req.dues_paid_through());
  }
  return "UHC Prioritas status";
}

}  // namespace uhc
