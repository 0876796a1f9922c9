#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/uhcctl/client.h"

// The national picture as `uhcctl summary` and `uhcctl report` fetch it from the classifier.
namespace uhc::cli {

// Every region's tier in the FULL view (one page holds the whole country); waits until the
// snapshot was read after `fresh_after` (when given), so a summary right after an ingest shows
// its effect. On an RPC error reports it and returns false with the exit code in *exit_code.
bool FetchAll(const Command& cmd, v1::ClassifierService::Stub* stub, const std::string& policy,
              absl::Time fresh_after, std::vector<v1::RegionTier>* out, int* exit_code);

// Every region `request` matches, page after page of 1000 (the whole country is one page). On
// an RPC failure sets *error and returns a non-OK status. (Defined with the queries, query.cc.)
absl::StatusOr<std::vector<v1::RegionTier>> ListAll(v1::ClassifierService::Stub* stub,
                                                    v1::ListRegionTiersRequest request,
                                                    grpc::Status* error);

// A tier of the policy: id ("madya") and name ("UHC Madya").
struct TierLabel {
  std::string id;
  std::string name;
};

// The policy's tiers, highest first, then {"none", "no tier"}; only "none" if the policy
// cannot be listed.
std::vector<TierLabel> PolicyTiers(v1::ClassifierService::Stub* stub, const std::string& policy);

// People the next tier lacks, if registrations can close the gap (-1 otherwise).
int64_t GapInPeople(const v1::RegionTier& t);

// The kab/kota whose next tier registrations can reach (GapInPeople > 0), nearest first (by
// gap in people, then code).
std::vector<const v1::RegionTier*> UpgradeCandidates(const std::vector<v1::RegionTier>& all);

// The classifier's plan for `region` to reach its next tier, or nullopt if the call failed.
std::optional<v1::TierPlan> PlanNextTier(v1::ClassifierService::Stub* stub,
                                         const v1::RegionTier& region, const std::string& policy);

struct Upgrade {
  const v1::RegionTier* region;
  v1::TierPlan plan;
};

// The `n` reachable upgrades of UpgradeCandidates costing the pemda least a year (then fewest
// people, then code). Plans every candidate: the gap in people is not a bound on the plan's
// people when a tier has alternatives, and a few hundred unary calls take well under a second.
std::vector<Upgrade> CheapestUpgrades(v1::ClassifierService::Stub* stub,
                                      const std::vector<v1::RegionTier>& all,
                                      const std::string& policy, size_t n);

}  // namespace uhc::cli
