#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/domain/identity.h"
#include "common/domain/regions.h"
#include "uhc/v1/common.pb.h"

namespace uhc {

// What an event does to a participant's record. A relocation is a LEAVE of the old region and
// an ENTER of the new one (the ENTER is not an event of its own). Their codes in the Redis
// function's ABI are in common/redis/schema.h.
enum class ApplyOp : uint8_t {
  kEnroll,
  kStatus,
  kSegment,
  kLeave,
  kEnter,
  kTerminate,
};

// One validated event, ready for Redis; or the reason it was rejected. Holds no NIK: only its
// keyed hash.
struct PreparedEvent {
  int index = 0;  // position in the request
  bool rejected = false;
  std::string field;   // for rejections: "events[3].nik"
  std::string reason;  // for rejections; never contains the NIK
  ApplyOp op = ApplyOp::kEnroll;
  const Region* region = nullptr;
  const Region* to_region = nullptr;  // relocations only
  ParticipantKey key;
  uint64_t occurred_at_ms = 0;
  uint32_t event_id_hash = 0;
  uint8_t arg = 0;  // segment | active << 3, the new segment, or the new status
};

// Validates events against the region registry and turns them into PreparedEvents.
// Thread-safe; pure apart from the keyed hash.
class EventValidator {
 public:
  // Producer clocks may run this far ahead of ours: an event further in the future is rejected
  // (one accepted would count as the participant's state until then).
  static constexpr absl::Duration kDefaultMaxFutureSkew = absl::Minutes(5);

  // Neither pointer is owned; both must outlive the validator. `history_days` > 0: events that
  // occurred before the history window (the WIB day `history_days` before today, the first day
  // enrollment-svc keeps) are rejected naming that day, since the days they would change are no
  // longer kept; 0 keeps every day.
  EventValidator(const RegionRegistry* regions, const NikKeyer* keyer,
                 absl::Duration max_future_skew = kDefaultMaxFutureSkew, int history_days = 0)
      : regions_(regions),
        keyer_(keyer),
        max_future_skew_(max_future_skew),
        history_days_(history_days) {}

  // Field names of rejections are prefixed "events[<index>]." when `in_batch` (bare for
  // Enroll). `now` bounds event_time: at most max_future_skew ahead, and not before the
  // history window.
  PreparedEvent Prepare(const v1::ParticipantEvent& event, int index, bool in_batch,
                        absl::Time now) const;

  ParticipantKey Key(absl::string_view nik) const { return keyer_->Key(nik); }

  // The kab/kota for `code`, or a reason why it is not one (unknown, a province, ...).
  const Region* Regency(const std::string& code, std::string* reason) const;

 private:
  const RegionRegistry* regions_;
  const NikKeyer* keyer_;
  absl::Duration max_future_skew_;
  int history_days_;
};

}  // namespace uhc
