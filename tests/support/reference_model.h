#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "common/domain/region_counts.h"
#include "uhc/v1/common.pb.h"
#include "uhc/v1/enrollment.pb.h"

namespace uhc::testing {

// The semantics of event ingest written as plainly as possible, for tests to compare Redis with
// (issue #26, docs/DESIGN.md "Exact whatever the order"): every distinct event is kept; a
// participant's state is the fold of their events in (event_time, event id hash) order, each
// region keeping the participant's state there (an event acts in the region it names; a
// relocation takes the state the person had in the region left into the destination, at its
// instant). The answers do not depend on the order Apply is called in.
class ReferenceModel {
 public:
  // What Redis keeps for one (region, NIK), summed up as DecodeStoredParticipant does.
  struct Record {
    int segment = 0;
    bool active = false;
    // 1 enrolled, 2 status, 3 segment, 4 relocated in, 5 moved out, 6 terminated, 7 pending
    int kind = 0;
    uint64_t ts_ms = 0;  // the last entry's
    uint32_t id_hash = 0;
    bool live() const { return kind >= 1 && kind <= 4; }
  };

  // Keeps one valid event (validation is not modelled): APPLIED, or DUPLICATE if the same
  // (region, event_time, event id) is kept already.
  v1::EventOutcome Apply(const v1::ParticipantEvent& event);

  // Counts per kab/kota now (population and status not modelled).
  const std::map<std::string, RegionCounts>& regions() const;
  // A kab/kota's counts at the end of WIB day `day` (days since 1970-01-01 in UTC+7).
  RegionCounts CountsOn(const std::string& region, int64_t day) const;
  // (region, NIK) -> its record.
  const std::map<std::pair<std::string, std::string>, Record>& records() const;

 private:
  struct Kept {
    int op = 0;  // 1 enrol, 2 status, 3 segment, 4 relocation (leave), 6 terminate
    int segment = 0;
    bool active = false;
    std::string to;
  };
  void Fold() const;

  // NIK -> (event_time, id hash, region) -> event.
  std::map<std::string, std::map<std::tuple<uint64_t, uint32_t, std::string>, Kept>> events_;
  mutable bool folded_ = true;
  mutable std::map<std::string, RegionCounts> regions_;
  // region -> WIB day -> the count changes of that day.
  mutable std::map<std::string, std::map<int64_t, RegionCounts>> days_;
  mutable std::map<std::pair<std::string, std::string>, Record> records_;
};

}  // namespace uhc::testing
