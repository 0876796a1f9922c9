// A table of malformed requests: each is rejected naming the field, good events beside them are
// applied, and an all-bad request leaves Redis byte-for-byte unchanged.
#include "gmock/gmock.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"

namespace uhc::testing {
namespace {

struct Case {
  const char* name;
  const char* field;  // the field the rejection must name (after "events[i].")
  std::function<void(v1::ParticipantEvent*)> spoil;
};

std::vector<Case> Cases() {
  auto ts = [](v1::ParticipantEvent* e) { return e->mutable_event_time(); };
  return {
      {"empty event id", "event_id", [](auto* e) { e->set_event_id(""); }},
      {"long event id", "event_id", [](auto* e) { e->set_event_id(std::string(129, 'x')); }},
      {"event id with space", "event_id", [](auto* e) { e->set_event_id("a b"); }},
      {"empty nik", "nik", [](auto* e) { e->set_nik(""); }},
      {"15-digit nik", "nik", [](auto* e) { e->set_nik("121901050389001"); }},
      {"17-digit nik", "nik", [](auto* e) { e->set_nik("12190105038900011"); }},
      {"letters in nik", "nik", [](auto* e) { e->set_nik("12190105038900A1"); }},
      {"30 February", "nik", [](auto* e) { e->set_nik("1219013002890001"); }},
      {"month 13", "nik", [](auto* e) { e->set_nik("1219010513890001"); }},
      {"day 00", "nik", [](auto* e) { e->set_nik("1219010003890001"); }},
      {"serial 0000", "nik", [](auto* e) { e->set_nik("1219010503890000"); }},
      {"province 00", "nik", [](auto* e) { e->set_nik("0019010503890001"); }},
      {"empty region", "region_code", [](auto* e) { e->set_region_code(""); }},
      {"unknown region", "region_code", [](auto* e) { e->set_region_code("12.99"); }},
      {"province where a kab/kota is needed", "region_code",
       [](auto* e) { e->set_region_code("12"); }},
      {"nation", "region_code", [](auto* e) { e->set_region_code("ID"); }},
      {"garbage region", "region_code", [](auto* e) { e->set_region_code("abc\n"); }},
      {"no timestamp", "event_time", [](auto* e) { e->clear_event_time(); }},
      {"far future", "event_time",
       [ts](auto* e) { ts(e)->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3 * 86400); }},
      {"ten minutes ahead (beyond the default 5-minute skew)", "event_time",
       [ts](auto* e) { ts(e)->set_seconds(absl::ToUnixSeconds(absl::Now()) + 600); }},
      {"before JKN", "event_time", [ts](auto* e) { ts(e)->set_seconds(1000000000); }},
      {"negative nanos", "event_time", [ts](auto* e) { ts(e)->set_nanos(-1); }},
      {"no change", "change", [](auto* e) { e->clear_change(); }},
      {"unspecified segment", "enrolled.segment",
       [](auto* e) { e->mutable_enrolled()->set_segment(v1::SEGMENT_UNSPECIFIED); }},
      {"unknown segment number", "enrolled.segment",
       [](auto* e) { e->mutable_enrolled()->set_segment(static_cast<v1::Segment>(9)); }},
      {"segment change to unspecified", "segment_changed.segment",
       [](auto* e) { e->mutable_segment_changed()->set_segment(v1::SEGMENT_UNSPECIFIED); }},
      {"segment change to -1", "segment_changed.segment",
       [](auto* e) { e->mutable_segment_changed()->set_segment(static_cast<v1::Segment>(-1)); }},
      {"relocation to the same region", "relocated.to_region_code",
       [](auto* e) { e->mutable_relocated()->set_to_region_code(e->region_code()); }},
      {"relocation to an unknown region", "relocated.to_region_code",
       [](auto* e) { e->mutable_relocated()->set_to_region_code("99.01"); }},
      {"relocation to a province", "relocated.to_region_code",
       [](auto* e) { e->mutable_relocated()->set_to_region_code("36"); }},
      {"relocation without a destination", "relocated.to_region_code",
       [](auto* e) { e->mutable_relocated()->clear_to_region_code(); }},
  };
}

class MalformedTest : public EnrollmentFixture {
 protected:
  // Every key and its DUMP, for byte-for-byte comparison.
  std::map<std::string, std::string> Dump() {
    auto redis = redis_->Connect();
    std::map<std::string, std::string> out;
    auto keys = redis->Command({"KEYS", "*"});
    for (size_t i = 0; i < (*keys)->elements; ++i) {
      std::string key((*keys)->element[i]->str, (*keys)->element[i]->len);
      auto dump = redis->Command({"DUMP", key});
      out[key] = std::string((*dump)->str, (*dump)->len);
    }
    return out;
  }
};

TEST_F(MalformedTest, EachBadEventIsRejectedNamingItsFieldAndGoodOnesApply) {
  std::vector<Case> cases = Cases();
  ASSERT_GE(cases.size(), 30u);
  std::vector<v1::ParticipantEvent> batch;
  for (size_t i = 0; i < cases.size(); ++i) {
    v1::ParticipantEvent e =
        Enrolled("bad-" + std::to_string(i), TestNik(i), "12.19", kBaseTime, v1::SEGMENT_PPU, true);
    if (std::string(cases[i].field).rfind("segment_changed", 0) == 0) {
      e.mutable_segment_changed()->set_segment(v1::SEGMENT_PPU);
    }
    if (std::string(cases[i].field).rfind("relocated", 0) == 0) {
      e.mutable_relocated()->set_to_region_code("12.75");
    }
    cases[i].spoil(&e);
    batch.push_back(e);
    // A good event after every bad one.
    batch.push_back(Enrolled("good-" + std::to_string(i), TestNik(1000 + i), "12.19", kBaseTime,
                             v1::SEGMENT_PPU, true));
  }
  // Same id, different content, in one batch: the second is rejected.
  batch.push_back(Enrolled("twin", TestNik(5000), "12.19", kBaseTime, v1::SEGMENT_PPU, true));
  batch.push_back(Enrolled("twin", TestNik(5001), "12.19", kBaseTime, v1::SEGMENT_BP, true));
  v1::IngestEventsResponse r = Ingest(batch);
  ASSERT_EQ(r.results_size(), static_cast<int>(batch.size()));
  for (size_t i = 0; i < cases.size(); ++i) {
    const v1::EventResult& bad = r.results(static_cast<int>(2 * i));
    EXPECT_EQ(bad.outcome(), v1::EVENT_OUTCOME_REJECTED) << cases[i].name;
    EXPECT_EQ(bad.field(), "events[" + std::to_string(2 * i) + "]." + cases[i].field)
        << cases[i].name << ": " << bad.reason();
    EXPECT_FALSE(bad.reason().empty()) << cases[i].name;
    EXPECT_EQ(r.results(static_cast<int>(2 * i + 1)).outcome(), v1::EVENT_OUTCOME_APPLIED)
        << cases[i].name;
  }
  const int n = static_cast<int>(batch.size());
  EXPECT_EQ(r.results(n - 2).outcome(), v1::EVENT_OUTCOME_APPLIED);
  EXPECT_EQ(r.results(n - 1).outcome(), v1::EVENT_OUTCOME_REJECTED);
  EXPECT_EQ(r.results(n - 1).field(), "events[" + std::to_string(n - 1) + "].event_id");
  EXPECT_EQ(Aggregate("12.19")["part"], static_cast<int64_t>(cases.size()) + 1);
}

TEST_F(MalformedTest, AllBadRequestsLeaveRedisByteForByteUnchanged) {
  Ingest({Enrolled("seed", TestNik(1), "12.19", kBaseTime, v1::SEGMENT_PPU, true)});
  std::map<std::string, std::string> before = Dump();
  ASSERT_FALSE(before.empty());
  std::vector<Case> cases = Cases();
  std::vector<v1::ParticipantEvent> all_bad;
  for (size_t i = 0; i < cases.size(); ++i) {
    v1::ParticipantEvent e = Enrolled("b" + std::to_string(i), TestNik(i + 10), "12.19", kBaseTime,
                                      v1::SEGMENT_PPU, true);
    cases[i].spoil(&e);
    all_bad.push_back(e);
  }
  v1::IngestEventsResponse r = Ingest(all_bad);
  EXPECT_EQ(r.rejected(), static_cast<int>(cases.size()));
  // Batch-level errors: empty and oversize batches.
  v1::IngestEventsRequest empty, huge;
  for (int i = 0; i < 10001; ++i) *huge.add_events() = all_bad[0];
  for (auto* request : {&empty, &huge}) {
    v1::IngestEventsResponse response;
    grpc::ClientContext context;
    grpc::Status status = enrollment_->IngestBatch(&context, *request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), ::testing::HasSubstr("events"));
  }
  // Enroll with bad fields: INVALID_ARGUMENT naming the request field.
  struct EnrollCase {
    std::function<void(v1::EnrollRequest*)> spoil;
    const char* field;
  } enroll_cases[] = {{[](auto* r) { r->set_request_id(""); }, "request_id"},
                      {[](auto* r) { r->set_nik("1234"); }, "nik"},
                      {[](auto* r) { r->set_region_code("36"); }, "region_code"},
                      {[](auto* r) { r->set_segment(v1::SEGMENT_UNSPECIFIED); }, "segment"}};
  for (const auto& c : enroll_cases) {
    v1::EnrollRequest request;
    request.set_request_id("enroll-bad");
    request.set_nik(TestNik(77));
    request.set_region_code("12.19");
    request.set_segment(v1::SEGMENT_PPU);
    c.spoil(&request);
    v1::EnrollResponse response;
    grpc::ClientContext context;
    grpc::Status status = enrollment_->Enroll(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(status.error_message().rfind(std::string(c.field) + ":", 0), 0u)
        << c.field << ": " << status.error_message();
  }
  EXPECT_EQ(Dump(), before);
}

}  // namespace
}  // namespace uhc::testing
