#include "tests/support/reference_model.h"

#include "common/domain/identity.h"

namespace uhc::testing {
namespace {

constexpr int64_t kDayMs = 86'400'000, kWibMs = 7 * 3'600'000;

// A participant's state in one region, as the fold goes.
struct InRegion {
  int segment = 0;  // 0: not a participant
  bool active = false;
  int last_segment = 0;  // the last state it was a participant in
  bool last_active = false;
  int exit_op = 0;  // the op that last took it out
  int last_op = 0;  // the last entry's op (5: an arrival)
  uint64_t ts = 0;  // the last entry's
  uint32_t idh = 0;
};

void Add(RegionCounts* c, int segment, bool active, int sign) {
  if (segment == 0) return;
  c->participants[segment] += sign;
  if (active) c->active[segment] += sign;
}

}  // namespace

v1::EventOutcome ReferenceModel::Apply(const v1::ParticipantEvent& e) {
  const uint64_t ts =
      static_cast<uint64_t>(e.event_time().seconds()) * 1000 + e.event_time().nanos() / 1000000;
  Kept k;
  switch (e.change_case()) {
    case v1::ParticipantEvent::kEnrolled:
      k = {1, e.enrolled().segment(), e.enrolled().active(), ""};
      break;
    case v1::ParticipantEvent::kStatusChanged:
      k = {2, 0, e.status_changed().active(), ""};
      break;
    case v1::ParticipantEvent::kSegmentChanged:
      k = {3, e.segment_changed().segment(), false, ""};
      break;
    case v1::ParticipantEvent::kRelocated:
      k = {4, 0, false, e.relocated().to_region_code()};
      break;
    case v1::ParticipantEvent::kTerminated:
      k = {6, 0, false, ""};
      break;
    default:
      return v1::EVENT_OUTCOME_REJECTED;
  }
  auto [it, inserted] =
      events_[e.nik()].emplace(std::make_tuple(ts, EventIdHash(e.event_id()), e.region_code()), k);
  if (!inserted) return v1::EVENT_OUTCOME_DUPLICATE;
  folded_ = false;
  return v1::EVENT_OUTCOME_APPLIED;
}

void ReferenceModel::Fold() const {
  if (folded_) return;
  regions_.clear();
  days_.clear();
  records_.clear();
  for (const auto& [nik, events] : events_) {
    std::map<std::string, InRegion> state;
    // An entry of `region`'s timeline: sets the state, books the change on its day.
    const auto entry = [&](const std::string& region, uint64_t ts, uint32_t idh, int op,
                           int segment, bool active) {
      InRegion& s = state[region];
      if (s.segment != segment || (segment != 0 && s.active != active)) {
        RegionCounts& day = days_[region][(static_cast<int64_t>(ts) + kWibMs) / kDayMs];
        Add(&day, s.segment, s.active, -1);
        Add(&day, segment, active, 1);
        if (s.segment != 0 && segment == 0) s.exit_op = op;
      }
      s.segment = segment;
      s.active = segment != 0 && active;
      if (segment != 0) {
        s.last_segment = segment;
        s.last_active = s.active;
      }
      s.last_op = op;
      s.ts = ts;
      s.idh = idh;
    };
    for (const auto& [key, k] : events) {
      const auto& [ts, idh, region] = key;
      const InRegion s = state[region];
      switch (k.op) {
        case 1:
          entry(region, ts, idh, 1, k.segment, k.active);
          break;
        case 2:
          entry(region, ts, idh, 2, s.segment, s.segment != 0 ? k.active : s.active);
          break;
        case 3:
          entry(region, ts, idh, 3, s.segment != 0 ? k.segment : 0, s.active);
          break;
        case 4: {
          entry(region, ts, idh, 4, 0, false);
          // The arrival, with what the person had here (none: no effect there).
          const InRegion there = state[k.to];
          if (s.segment != 0) {
            entry(k.to, ts, idh, 5, s.segment, s.active);
          } else {
            entry(k.to, ts, idh, 5, there.segment, there.active);
          }
          break;
        }
        default:
          entry(region, ts, idh, 6, 0, false);
      }
    }
    for (const auto& [region, s] : state) {
      Record r;
      r.ts_ms = s.ts;
      r.id_hash = s.idh;
      if (s.segment != 0) {
        r.kind = s.last_op == 5 ? 4 : s.last_op;
        r.segment = s.segment;
        r.active = s.active;
      } else if (s.last_segment != 0) {
        r.kind = s.exit_op == 4 ? 5 : 6;
        r.segment = s.last_segment;
        r.active = s.last_active;
      } else {
        r.kind = 7;
      }
      records_[{region, nik}] = r;
      Add(&regions_[region], s.segment, s.active, 1);
    }
  }
  folded_ = true;
}

const std::map<std::string, RegionCounts>& ReferenceModel::regions() const {
  Fold();
  return regions_;
}

const std::map<std::pair<std::string, std::string>, ReferenceModel::Record>&
ReferenceModel::records() const {
  Fold();
  return records_;
}

RegionCounts ReferenceModel::CountsOn(const std::string& region, int64_t day) const {
  Fold();
  RegionCounts sum;
  auto it = days_.find(region);
  if (it == days_.end()) return sum;
  for (const auto& [d, change] : it->second) {
    if (d <= day) sum.AddCounts(change);
  }
  return sum;
}

}  // namespace uhc::testing
