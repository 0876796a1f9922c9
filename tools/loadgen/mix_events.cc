#include "tools/loadgen/mix_events.h"

namespace uhc {

void ToParticipantEvent(const MixEvent& m, const std::vector<const Region*>& kabs,
                        v1::ParticipantEvent* e) {
  e->set_event_id(m.event_id);
  e->mutable_event_time()->set_seconds(m.occurred_at_seconds);
  switch (m.op) {
    case MixOp::kEnroll:
      e->mutable_enrolled()->set_segment(static_cast<v1::Segment>(m.segment));
      e->mutable_enrolled()->set_active(m.active);
      break;
    case MixOp::kStatus:
      e->mutable_status_changed()->set_active(m.active);
      break;
    case MixOp::kSegment:
      e->mutable_segment_changed()->set_segment(static_cast<v1::Segment>(m.segment));
      break;
    case MixOp::kRelocate:
      e->mutable_relocated()->set_to_region_code(kabs[m.to_region]->code);
      break;
    case MixOp::kTerminate:
      e->mutable_terminated()->set_reason("death");
      break;
  }
  e->set_region_code(kabs[m.region]->code);
  e->set_nik(m.nik);
}

}  // namespace uhc
