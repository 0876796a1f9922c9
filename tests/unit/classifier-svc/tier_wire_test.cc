#include "classifier-svc/tier_wire.h"

#include <set>

#include "classifier-svc/snapshot.h"
#include "common/config/files.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;

// The names of the fields `message` has set (proto3: the non-default ones).
std::set<std::string> SetFields(const google::protobuf::Message& message) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);
  std::set<std::string> names;
  for (const auto* field : fields) names.insert(field->name());
  return names;
}

class TierWireTest : public ::testing::Test {
 protected:
  TierWireTest() {
    std::map<std::string, RegionAggregate, std::less<>> aggregates;
    RegionAggregate& batu_bara = aggregates["12.19"];
    batu_bara.counts.population = 1000;
    batu_bara.counts.participants[1] = 600;  // PBI APBN
    batu_bara.counts.active[1] = 590;
    batu_bara.counts.participants[2] = 300;  // PBPU Pemda
    batu_bara.counts.active[2] = 280;
    batu_bara.counts.uhc_prioritas = true;
    batu_bara.counts.dues_paid_through = 202509;
    batu_bara.version = 7;
    aggregates["36.01"].counts.population = 500;
    aggregates["36.01"].counts.participants[3] = 100;
    aggregates["36.01"].version = 2;
    snapshot_ =
        Snapshot::Build(regions_, policies_, aggregates,
                        absl::FromUnixSeconds(1767225600) + absl::Milliseconds(250), nullptr);
  }

  // What the generated code would send: the prebuilt message stamped, in `view`.
  v1::RegionTier Expected(const SnapshotEntry& entry, const std::string& policy,
                          v1::RegionTierView view, bool stale) const {
    v1::RegionTier tier = entry.tiers.at(policy);
    *tier.mutable_snapshot_time() =
        TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(snapshot_->read_at()));
    tier.set_stale(stale);
    return view == v1::REGION_TIER_VIEW_BASIC ? BasicView(tier) : tier;
  }

  RegionRegistry regions_ = *LoadRegions(UHC_SOURCE_DIR "/data");
  PolicySet policies_ = *LoadPolicies(UHC_SOURCE_DIR "/config/policies");
  std::shared_ptr<const Snapshot> snapshot_;
};

TEST_F(TierWireTest, BasicViewKeepsOnlyTheListedFields) {
  v1::RegionTier full =
      Expected(*snapshot_->Find("12.19"), policies_.default_id(), v1::REGION_TIER_VIEW_FULL, true);
  ASSERT_GT(full.criteria_size(), 0);
  ASSERT_FALSE(full.metrics().participants_by_segment().empty());
  ASSERT_FALSE(full.parent_code().empty());
  ASSERT_GT(
      full.metrics().coverage_bp() * full.metrics().activity_bp() * full.metrics().pemda_share_bp(),
      0);

  v1::RegionTier basic = BasicView(full);
  EXPECT_EQ(SetFields(basic),
            (std::set<std::string>{"region_code", "region_name", "level", "policy_id", "tier",
                                   "metrics", "data_version", "snapshot_time", "stale"}));
  EXPECT_EQ(SetFields(basic.metrics()),
            (std::set<std::string>{"coverage_bp", "activity_bp", "pemda_share_bp"}));
  EXPECT_EQ(basic.region_code(), "12.19");
  EXPECT_EQ(basic.region_name(), full.region_name());
  EXPECT_EQ(basic.level(), full.level());
  EXPECT_EQ(basic.tier(), full.tier());
  EXPECT_EQ(basic.policy_id(), full.policy_id());
  EXPECT_EQ(basic.metrics().coverage_bp(), full.metrics().coverage_bp());
  EXPECT_EQ(basic.metrics().activity_bp(), full.metrics().activity_bp());
  EXPECT_EQ(basic.metrics().pemda_share_bp(), full.metrics().pemda_share_bp());
  EXPECT_EQ(basic.data_version(), 7);
  EXPECT_TRUE(MessageDifferencer::Equals(basic.snapshot_time(), full.snapshot_time()));
  EXPECT_TRUE(basic.stale());
}

TEST_F(TierWireTest, GetAnswersParseToTheMessageTheGeneratedCodeSends) {
  for (const auto& [policy, unused] : policies_.all()) {
    for (const char* code : {"12.19", "12", "ID", "36.01", "94.01"}) {
      const SnapshotEntry& entry = *snapshot_->Find(code);
      for (v1::RegionTierView view : {v1::REGION_TIER_VIEW_BASIC, v1::REGION_TIER_VIEW_FULL}) {
        for (bool stale : {false, true}) {
          std::string bytes = TierAnswer(entry.serialized.at(policy), view,
                                         AnswerFields(snapshot_->as_of_field(), stale));
          v1::RegionTier got;
          ASSERT_TRUE(got.ParseFromString(bytes));
          v1::RegionTier want = Expected(entry, policy, view, stale);
          EXPECT_TRUE(MessageDifferencer::Equals(got, want))
              << code << " " << policy << " view " << view << " stale " << stale << "\n"
              << got.DebugString() << "\nvs\n"
              << want.DebugString();
          EXPECT_EQ(bytes.size(), want.ByteSizeLong()) << "no field sent twice";
        }
      }
    }
  }
}

TEST_F(TierWireTest, ListPagesParseToTheResponseTheGeneratedCodeSends) {
  const std::string policy = policies_.default_id();
  for (v1::RegionTierView view : {v1::REGION_TIER_VIEW_BASIC, v1::REGION_TIER_VIEW_FULL}) {
    for (bool stale : {false, true}) {
      ListResponseWriter writer(view, AnswerFields(snapshot_->as_of_field(), stale));
      v1::ListRegionTiersResponse want;
      for (const auto& entry : snapshot_->entries()) {
        writer.Add(entry->serialized.at(policy));
        *want.add_regions() = Expected(*entry, policy, view, stale);
      }
      want.set_next_page_token("bmV4dA");
      want.set_total_size(12345);
      EXPECT_EQ(writer.size(), 553);
      std::string bytes = writer.Finish(want.next_page_token(), want.total_size());
      v1::ListRegionTiersResponse got;
      ASSERT_TRUE(got.ParseFromString(bytes));
      ASSERT_EQ(got.regions_size(), 553);
      EXPECT_TRUE(MessageDifferencer::Equals(got, want)) << "view " << view << " stale " << stale;
      EXPECT_EQ(bytes.size(), want.ByteSizeLong()) << "no field sent twice";
    }
  }
  // The last page of an empty listing: nothing at all, as the generated code sends.
  EXPECT_EQ(ListResponseWriter(v1::REGION_TIER_VIEW_FULL, "").Finish("", 0), "");
}

TEST_F(TierWireTest, BasicRowsAreAFewPercentOfFullOnes) {
  size_t full = 0, basic = 0;
  for (const auto& entry : snapshot_->entries()) {
    full += entry->serialized.at(policies_.default_id()).full.size();
    basic += entry->serialized.at(policies_.default_id()).basic.size();
  }
  EXPECT_LT(basic * 10, full);
}

TEST(EffectiveViewTest, UnspecifiedIsTheMethodDefaultAndUnknownValuesAreRefused) {
  EXPECT_EQ(EffectiveView(v1::REGION_TIER_VIEW_UNSPECIFIED, v1::REGION_TIER_VIEW_FULL),
            v1::REGION_TIER_VIEW_FULL);
  EXPECT_EQ(EffectiveView(v1::REGION_TIER_VIEW_UNSPECIFIED, v1::REGION_TIER_VIEW_BASIC),
            v1::REGION_TIER_VIEW_BASIC);
  EXPECT_EQ(EffectiveView(v1::REGION_TIER_VIEW_BASIC, v1::REGION_TIER_VIEW_FULL),
            v1::REGION_TIER_VIEW_BASIC);
  EXPECT_EQ(EffectiveView(v1::REGION_TIER_VIEW_FULL, v1::REGION_TIER_VIEW_BASIC),
            v1::REGION_TIER_VIEW_FULL);
  EXPECT_EQ(EffectiveView(static_cast<v1::RegionTierView>(7), v1::REGION_TIER_VIEW_BASIC),
            std::nullopt);
}

}  // namespace
}  // namespace uhc
