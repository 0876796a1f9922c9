#include "common/redis/schema.h"

#include "gtest/gtest.h"

namespace uhc {
namespace {

TEST(SchemaTest, KeysCarryTheRegionAsHashTag) {
  EXPECT_EQ(AggregateKey("12.19"), "uhc:{12.19}:agg");
  EXPECT_EQ(BucketKey("12.19", 0x1f), "uhc:{12.19}:p:1f");
  EXPECT_EQ(RegionOfKey("uhc:{12.19}:agg"), "12.19");
  EXPECT_EQ(RegionOfKey("uhc:{12.19}:p:1f"), "12.19");
  EXPECT_EQ(RegionOfKey("uhc:{12.19}:history"), "");
  EXPECT_EQ(RegionOfKey("other"), "");
  EXPECT_EQ(TierHistoryKey("12.19"), "uhc:{tiers}:history:12.19");
}

TEST(SchemaTest, RecordsRoundTrip) {
  ParticipantRecord r;
  r.segment = 5;
  r.active = true;
  r.kind = RecordKind::kTerminated;
  r.occurred_at_ms = 0xABCDEF012345;  // 6 bytes
  r.event_id_hash = 0xDEADBEEF;
  std::string bytes = EncodeRecord(r);
  ASSERT_EQ(bytes.size(), kRecordBytes);
  std::optional<ParticipantRecord> back = DecodeRecord(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->segment, 5);
  EXPECT_TRUE(back->active);
  EXPECT_EQ(back->kind, RecordKind::kTerminated);
  EXPECT_FALSE(back->live());
  EXPECT_EQ(back->occurred_at_ms, 0xABCDEF012345u);
  EXPECT_EQ(back->event_id_hash, 0xDEADBEEFu);
}

TEST(SchemaTest, MalformedRecordsAreRefused) {
  EXPECT_FALSE(DecodeRecord("").has_value());
  EXPECT_FALSE(DecodeRecord(std::string(10, '\x11')).has_value());
  EXPECT_FALSE(DecodeRecord(std::string(11, '\0')).has_value()) << "kind 0 does not exist";
  EXPECT_FALSE(DecodeRecord(std::string(11, '\x70')).has_value()) << "kind 7 does not exist";
}

TEST(SchemaTest, TheLeaveResultCarriesSegmentAndStatus) {
  const uint8_t leave = apply_abi::kApplied | (4 << 3) | (1 << 6);
  EXPECT_EQ(apply_abi::Outcome(leave), apply_abi::kApplied);
  EXPECT_EQ(apply_abi::CarriedEnterArg(leave), 4 | 8);
}

TEST(SchemaTest, EventArgumentLayout) {
  std::string a = apply_abi::EncodeEventArg(apply_abi::kLeave, 0x0102, 0x0304, "ABCDEFGH",
                                            0x010203040506, 0x0A0B0C0D, 7);
  ASSERT_EQ(a.size(), apply_abi::kEventArgBytes);
  EXPECT_EQ(a, std::string("\x04\x01\x02\x03\x04"
                           "ABCDEFGH"
                           "\x01\x02\x03\x04\x05\x06"
                           "\x0A\x0B\x0C\x0D\x07",
                           24));
}

}  // namespace
}  // namespace uhc
