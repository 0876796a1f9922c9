#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "uhc/v1/classifier.pb.h"

namespace uhc {

// RegionTier answers assembled from bytes serialized once per snapshot, in the two views of
// AIP-157. The assembly relies on protobuf's merge rule: fields appended to a serialized message
// merge into it, and elements of a repeated message field are each their tag, length and bytes.
// So GetRegionTier and ListRegionTiers copy bytes instead of copying and serializing messages,
// and what they send parses to the message the generated code would have built.

// One region's RegionTier under one policy, serialized in each view, without as_of and stale
// (those are per answer, see AnswerFields).
struct SerializedTier {
  std::string full;
  std::string basic;

  // `view` is BASIC or FULL.
  const std::string& in(v1::RegionTierView view) const {
    return view == v1::REGION_TIER_VIEW_BASIC ? basic : full;
  }
};

// The BASIC view of a full RegionTier: region_code, region_name, level, tier, the three
// basis-point indicators (metrics.coverage_bp, activity_bp, pemda_share_bp), data_version, as_of
// and stale. Everything else is left unset.
v1::RegionTier BasicView(const v1::RegionTier& full);

SerializedTier SerializeViews(const v1::RegionTier& full);

// The view to answer in: `requested`, or `method_default` when unspecified (AIP-157: FULL for
// Get, BASIC for List). nullopt for a value this server does not know (an open enum can carry
// any number); callers answer INVALID_ARGUMENT.
std::optional<v1::RegionTierView> EffectiveView(v1::RegionTierView requested,
                                                v1::RegionTierView method_default);

// What every RegionTier of one answer carries on top of its pre-serialized bytes: the encoded
// as_of of the snapshot (`as_of_field`, empty when it has none) and, when `stale`, stale = true.
std::string AnswerFields(absl::string_view as_of_field, bool stale);

// GetRegionTier's answer: a serialized RegionTier.
std::string TierAnswer(const SerializedTier& tier, v1::RegionTierView view,
                       absl::string_view answer_fields);

// A ListRegionTiersResponse on the wire, one region at a time. Not thread-safe; the
// SerializedTiers added must outlive Finish (the snapshot holding them does).
class ListResponseWriter {
 public:
  // `view` is BASIC or FULL; `answer_fields` comes from AnswerFields and goes into every row.
  ListResponseWriter(v1::RegionTierView view, std::string answer_fields);

  // Adds `tier` as the next element of `regions`.
  void Add(const SerializedTier& tier) { rows_.push_back(&tier.in(view_)); }
  int size() const { return static_cast<int>(rows_.size()); }

  // The serialized response: the rows, then next_page_token and total_size. Sized exactly
  // before it is written, so a page of the whole country is one allocation.
  std::string Finish(const std::string& next_page_token, int32_t total_size) const;

 private:
  v1::RegionTierView view_;
  std::string answer_fields_;
  std::vector<const std::string*> rows_;
};

}  // namespace uhc
