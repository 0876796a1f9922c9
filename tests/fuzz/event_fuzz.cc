// libFuzzer: bytes parsed as a ParticipantEvent (protobuf wire format) and validated; never
// crashes; every rejection names a field; an accepted event has a kab/kota and a timestamp.
#include <cstdint>
#include <cstdlib>

#include "absl/time/clock.h"
#include "common/config/files.h"
#include "common/domain/event_rules.h"
#include "common/domain/identity.h"
#include "common/domain/regions.h"

namespace {

const uhc::RegionRegistry& Regions() {
  static const uhc::RegionRegistry* r =
      new uhc::RegionRegistry(*uhc::LoadRegions(UHC_SOURCE_DIR "/data"));
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const uhc::NikKeyer keyer = *uhc::NikKeyer::Create("fuzz-secret-0123456789", 8);
  static const uhc::EventValidator validator(&Regions(), &keyer);
  uhc::v1::ParticipantEvent event;
  if (!event.ParseFromArray(data, static_cast<int>(size))) return 0;
  uhc::PreparedEvent p = validator.Prepare(event, 7, true, absl::FromUnixSeconds(1767225600));
  if (p.rejected) {
    if (p.field.rfind("events[7].", 0) != 0 || p.reason.empty()) std::abort();
  } else if (p.region == nullptr || p.region->level != uhc::RegionLevel::kRegency ||
             p.occurred_at_ms == 0) {
    std::abort();
  }
  return 0;
}
