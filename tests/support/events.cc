#include "tests/support/events.h"

#include "absl/strings/str_format.h"

namespace uhc::testing {

std::string TestNik(int64_t i) {
  int serial = static_cast<int>(i % 9999) + 1;
  int64_t rest = i / 9999;
  int district = static_cast<int>(rest % 99) + 1;
  rest /= 99;
  int day = static_cast<int>(rest % 28) + 1;
  rest /= 28;
  int year = 80 + static_cast<int>(rest % 20);
  bool female = (rest / 20) % 2 == 1;
  return absl::StrFormat("1219%02d%02d%02d%02d%04d", district, day + (female ? 40 : 0),
                         static_cast<int>(1 + i % 12), year % 100, serial);
}

namespace {

v1::ParticipantEvent Base(const std::string& id, const std::string& nik, const std::string& region,
                          int64_t ts) {
  v1::ParticipantEvent e;
  e.set_event_id(id);
  e.set_nik(nik);
  e.set_region_code(region);
  e.mutable_occurred_at()->set_seconds(ts);
  return e;
}

}  // namespace

v1::ParticipantEvent Enrolled(const std::string& id, const std::string& nik,
                              const std::string& region, int64_t ts, v1::Segment segment,
                              bool active) {
  v1::ParticipantEvent e = Base(id, nik, region, ts);
  e.mutable_enrolled()->set_segment(segment);
  e.mutable_enrolled()->set_active(active);
  return e;
}

v1::ParticipantEvent StatusChanged(const std::string& id, const std::string& nik,
                                   const std::string& region, int64_t ts, bool active) {
  v1::ParticipantEvent e = Base(id, nik, region, ts);
  e.mutable_status_changed()->set_active(active);
  return e;
}

v1::ParticipantEvent SegmentChanged(const std::string& id, const std::string& nik,
                                    const std::string& region, int64_t ts, v1::Segment segment) {
  v1::ParticipantEvent e = Base(id, nik, region, ts);
  e.mutable_segment_changed()->set_segment(segment);
  return e;
}

v1::ParticipantEvent Relocated(const std::string& id, const std::string& nik,
                               const std::string& region, int64_t ts, const std::string& to) {
  v1::ParticipantEvent e = Base(id, nik, region, ts);
  e.mutable_relocated()->set_to_region_code(to);
  return e;
}

v1::ParticipantEvent Terminated(const std::string& id, const std::string& nik,
                                const std::string& region, int64_t ts) {
  v1::ParticipantEvent e = Base(id, nik, region, ts);
  e.mutable_terminated()->set_reason("death");
  return e;
}

}  // namespace uhc::testing
