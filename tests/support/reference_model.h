#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "common/domain/region_counts.h"
#include "uhc/v1/common.pb.h"
#include "uhc/v1/enrollment.pb.h"

namespace uhc::testing {

// The semantics of event ingest written as plainly as possible, for tests to compare Redis with.
// One record per (region, NIK), like the Redis layout; tombstones remember the last event.
class ReferenceModel {
 public:
  struct Record {
    int segment = 0;
    bool active = false;
    int kind = 0;  // 1 enrolled, 2 status, 3 segment, 4 relocated in, 5 moved out, 6 terminated
    uint64_t ts_ms = 0;
    uint32_t id_hash = 0;
    bool live() const { return kind != 5 && kind != 6; }
  };

  // Applies one valid event (validation is not modelled) and returns its outcome.
  v1::EventOutcome Apply(const v1::ParticipantEvent& event);

  // Counts per kab/kota (population and status not modelled).
  const std::map<std::string, RegionCounts>& regions() const { return regions_; }
  // A kab/kota's counts at the end of WIB day `day` (days since 1970-01-01 in UTC+7): the sum
  // of every applied transition whose occurred_at falls on or before it, whenever it arrived.
  RegionCounts CountsOn(const std::string& region, int64_t day) const;
  const std::map<std::pair<std::string, std::string>, Record>& records() const { return records_; }

 private:
  enum Code { kApplied = 1, kDuplicate, kStale, kNotFound, kGone, kSkipped };
  Code Step(const std::string& region, const std::string& nik, int op, uint64_t ts, uint32_t idh,
            int seg, int active, Record* moved);
  void Count(const std::string& region, int seg, bool active, int sign);

  std::map<std::string, RegionCounts> regions_;
  // region -> WIB day -> the count changes of the transitions applied for that day.
  std::map<std::string, std::map<int64_t, RegionCounts>> days_;
  int64_t day_ = 0;  // the day of the event being applied
  std::map<std::pair<std::string, std::string>, Record> records_;
};

}  // namespace uhc::testing
