#include "tests/support/reference_model.h"

#include "common/domain/identity.h"

namespace uhc::testing {

void ReferenceModel::Count(const std::string& region, int seg, bool active, int sign) {
  for (RegionCounts* c : {&regions_[region], &days_[region][day_]}) {
    c->participants[seg] += sign;
    if (active) c->active[seg] += sign;
  }
}

RegionCounts ReferenceModel::CountsOn(const std::string& region, int64_t day) const {
  RegionCounts sum;
  auto it = days_.find(region);
  if (it == days_.end()) return sum;
  for (const auto& [d, change] : it->second) {
    if (d <= day) sum.AddCounts(change);
  }
  return sum;
}

ReferenceModel::Code ReferenceModel::Step(const std::string& region, const std::string& nik, int op,
                                          uint64_t ts, uint32_t idh, int seg, int active,
                                          Record* moved) {
  auto it = records_.find({region, nik});
  Record* rec = it == records_.end() ? nullptr : &it->second;
  if (rec && rec->ts_ms == ts && rec->id_hash == idh) {
    if (op == 4) *moved = *rec;
    return kDuplicate;
  }
  if (rec && (ts < rec->ts_ms || (ts == rec->ts_ms && idh < rec->id_hash))) return kStale;
  Record next;
  if (op == 1 || op == 5) {
    if (rec && rec->live()) Count(region, rec->segment, rec->active, -1);
    next = {seg, active == 1, op == 1 ? 1 : 4, ts, idh};
  } else if (!rec) {
    return kNotFound;
  } else if (!rec->live()) {
    return kGone;
  } else {
    Count(region, rec->segment, rec->active, -1);
    next = *rec;
    next.ts_ms = ts;
    next.id_hash = idh;
    if (op == 2) {
      next.active = active == 1;
      next.kind = 2;
    } else if (op == 3) {
      next.segment = seg;
      next.kind = 3;
    } else if (op == 4) {
      next.kind = 5;
      *moved = next;
    } else {
      next.kind = 6;
    }
  }
  if (next.live()) Count(region, next.segment, next.active, 1);
  records_[{region, nik}] = next;
  return kApplied;
}

v1::EventOutcome ReferenceModel::Apply(const v1::ParticipantEvent& e) {
  uint64_t ts =
      static_cast<uint64_t>(e.occurred_at().seconds()) * 1000 + e.occurred_at().nanos() / 1000000;
  uint32_t idh = EventIdHash(e.event_id());
  constexpr int64_t kDayMs = 86'400'000, kWibMs = 7 * 3'600'000;
  day_ = (static_cast<int64_t>(ts) + kWibMs) / kDayMs;
  Record moved;
  auto outcome = [](Code c) {
    switch (c) {
      case kApplied:
        return v1::APPLIED;
      case kDuplicate:
        return v1::DUPLICATE;
      case kStale:
        return v1::STALE;
      default:
        return v1::REJECTED;
    }
  };
  switch (e.change_case()) {
    case v1::ParticipantEvent::kEnrolled:
      return outcome(Step(e.region_code(), e.nik(), 1, ts, idh, e.enrolled().segment(),
                          e.enrolled().active() ? 1 : 0, &moved));
    case v1::ParticipantEvent::kStatusChanged:
      return outcome(Step(e.region_code(), e.nik(), 2, ts, idh, 0,
                          e.status_changed().active() ? 1 : 0, &moved));
    case v1::ParticipantEvent::kSegmentChanged:
      return outcome(
          Step(e.region_code(), e.nik(), 3, ts, idh, e.segment_changed().segment(), 0, &moved));
    case v1::ParticipantEvent::kTerminated:
      return outcome(Step(e.region_code(), e.nik(), 6, ts, idh, 0, 0, &moved));
    case v1::ParticipantEvent::kRelocated: {
      Code leave = Step(e.region_code(), e.nik(), 4, ts, idh, 0, 0, &moved);
      if (leave != kApplied && leave != kDuplicate) return outcome(leave);
      Code enter = Step(e.relocated().to_region_code(), e.nik(), 5, ts, idh, moved.segment,
                        moved.active ? 1 : 0, &moved);
      if (leave == kApplied) return v1::APPLIED;
      return enter == kApplied ? v1::APPLIED : enter == kStale ? v1::STALE : v1::DUPLICATE;
    }
    default:
      return v1::REJECTED;
  }
}

}  // namespace uhc::testing
