#pragma once

// The realistic mix (mix.h) as the API's events: what uhc-loadgen sends and uhc-bench-apply-ab
// prepares and applies the way enrollment-svc does.

#include <vector>

#include "common/domain/regions.h"
#include "tools/loadgen/mix.h"
#include "uhc/v1/enrollment.pb.h"

namespace uhc {

// Writes `m` into `*event`; `kabs` is the RegionRegistry::regencies() the mix was made from.
void ToParticipantEvent(const MixEvent& m, const std::vector<const Region*>& kabs,
                        v1::ParticipantEvent* event);

}  // namespace uhc
