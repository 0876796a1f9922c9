#include "classifier-svc/tier_wire.h"

#include <utility>

#include "google/protobuf/io/coded_stream.h"

namespace uhc {
namespace {

using google::protobuf::io::CodedOutputStream;

// The tag of ListRegionTiersResponse.regions: its field number and wire type 2 (length-delimited).
constexpr uint32_t kRegionsTag =
    (static_cast<uint32_t>(v1::ListRegionTiersResponse::kRegionsFieldNumber) << 3) | 2;

void AppendVarint(uint32_t value, std::string* out) {
  uint8_t buffer[5];
  uint8_t* end = CodedOutputStream::WriteVarint32ToArray(value, buffer);
  out->append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(end - buffer));
}

}  // namespace

v1::RegionTier BasicView(const v1::RegionTier& full) {
  v1::RegionTier basic;
  basic.set_region_code(full.region_code());
  basic.set_region_name(full.region_name());
  basic.set_level(full.level());
  basic.set_policy_id(full.policy_id());
  basic.set_tier(full.tier());
  if (full.has_metrics()) {
    v1::RegionMetrics* metrics = basic.mutable_metrics();
    metrics->set_coverage_bp(full.metrics().coverage_bp());
    metrics->set_activity_bp(full.metrics().activity_bp());
    metrics->set_pemda_share_bp(full.metrics().pemda_share_bp());
  }
  basic.set_data_version(full.data_version());
  if (full.has_snapshot_time()) *basic.mutable_snapshot_time() = full.snapshot_time();
  basic.set_stale(full.stale());
  return basic;
}

SerializedTier SerializeViews(const v1::RegionTier& full) {
  return {full.SerializeAsString(), BasicView(full).SerializeAsString()};
}

std::optional<v1::RegionTierView> EffectiveView(v1::RegionTierView requested,
                                                v1::RegionTierView method_default) {
  switch (requested) {
    case v1::REGION_TIER_VIEW_UNSPECIFIED:
      return method_default;
    case v1::REGION_TIER_VIEW_BASIC:
    case v1::REGION_TIER_VIEW_FULL:
      return requested;
    default:
      return std::nullopt;
  }
}

std::string AnswerFields(absl::string_view as_of_field, bool stale) {
  static const std::string* const kStaleField = [] {
    v1::RegionTier flag;
    flag.set_stale(true);
    return new std::string(flag.SerializeAsString());
  }();
  std::string fields(as_of_field);
  if (stale) fields += *kStaleField;
  return fields;
}

std::string TierAnswer(const SerializedTier& tier, v1::RegionTierView view,
                       absl::string_view answer_fields) {
  const std::string& bytes = tier.in(view);
  std::string answer;
  answer.reserve(bytes.size() + answer_fields.size());
  answer.append(bytes).append(answer_fields.data(), answer_fields.size());
  return answer;
}

ListResponseWriter::ListResponseWriter(v1::RegionTierView view, std::string answer_fields)
    : view_(view), answer_fields_(std::move(answer_fields)) {}

std::string ListResponseWriter::Finish(const std::string& next_page_token,
                                       int32_t total_size) const {
  v1::ListRegionTiersResponse tail;
  tail.set_next_page_token(next_page_token);
  tail.set_total_size(total_size);
  size_t size = tail.ByteSizeLong();
  for (const std::string* row : rows_) {
    auto length = static_cast<uint32_t>(row->size() + answer_fields_.size());
    size += CodedOutputStream::VarintSize32(kRegionsTag) + CodedOutputStream::VarintSize32(length) +
            length;
  }
  std::string out;
  out.reserve(size);
  for (const std::string* row : rows_) {
    AppendVarint(kRegionsTag, &out);
    AppendVarint(static_cast<uint32_t>(row->size() + answer_fields_.size()), &out);
    out += *row;
    out += answer_fields_;
  }
  tail.AppendToString(&out);
  return out;
}

}  // namespace uhc
