#include "tests/support/events.h"

#include <map>
#include <random>
#include <vector>

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
  e.mutable_event_time()->set_seconds(ts);
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

std::vector<v1::ParticipantEvent> GenerateHistory(const std::vector<std::string>& regions,
                                                  int participants, int events, uint32_t seed,
                                                  int max_step_seconds) {
  std::mt19937 rng(seed);
  struct State {
    std::string region;
    bool enrolled = false;
    int64_t clock = kBaseTime;
  };
  std::vector<State> people(participants);
  std::vector<v1::ParticipantEvent> out;
  out.reserve(events + events / 5);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  while (static_cast<int>(out.size()) < events) {
    int i = pick(participants);
    State& s = people[i];
    s.clock += 1 + pick(max_step_seconds);
    std::string nik = TestNik(i);
    std::string id = "ev" + std::to_string(out.size());
    auto seg = static_cast<v1::Segment>(1 + pick(5));
    if (!s.enrolled) {
      s.region = regions[pick(static_cast<int>(regions.size()))];
      s.enrolled = true;
      out.push_back(Enrolled(id, nik, s.region, s.clock, seg, pick(10) < 7));
      continue;
    }
    int r = pick(100);
    if (r < 50) {
      out.push_back(StatusChanged(id, nik, s.region, s.clock, pick(10) < 8));
    } else if (r < 70) {
      out.push_back(SegmentChanged(id, nik, s.region, s.clock, seg));
    } else if (r < 85) {
      std::string to = regions[pick(static_cast<int>(regions.size()))];
      if (to == s.region) continue;
      out.push_back(Relocated(id, nik, s.region, s.clock, to));
      s.region = to;
    } else if (r < 90) {
      out.push_back(Terminated(id, nik, s.region, s.clock));
      s.enrolled = false;
    } else {
      // A re-enrolment in the same region (segment or status from scratch).
      out.push_back(Enrolled(id, nik, s.region, s.clock, seg, pick(2) == 0));
    }
    // Some events at the same second, ordered by event id hash.
    if (pick(50) == 0) out.back().mutable_event_time()->set_nanos(0);
  }
  // 10% exact duplicates, re-sent up to 500 events later; 5% of events overtaken by the next
  // event of the same participant (out-of-order delivery, which must not change any figure).
  std::vector<v1::ParticipantEvent> mixed;
  mixed.reserve(out.size() * 11 / 10);
  std::map<std::string, size_t> last_of;  // NIK -> position in mixed
  for (size_t k = 0; k < out.size(); ++k) {
    mixed.push_back(out[k]);
    auto it = last_of.find(out[k].nik());
    if (it != last_of.end() && pick(20) == 0) std::swap(mixed[it->second], mixed.back());
    last_of[out[k].nik()] = mixed.size() - 1;
    if (pick(10) == 0 && k > 0) mixed.push_back(out[k - pick(std::min<int>(k, 500))]);
  }
  return mixed;
}

}  // namespace uhc::testing
