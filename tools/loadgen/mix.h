#pragma once

// The realistic ingest mix of the benchmarks, without the API types: uhc-loadgen turns each event
// into a ParticipantEvent, uhc-bench-pg into the arguments of its PostgreSQL function, so both
// stores are fed the same events in the same order.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/domain/regions.h"

namespace uhc {

struct MixOptions {
  int64_t events = 2000000;
  // Distinct participants; 0: `events` with enroll_only, else events * 0.6 (at least 1).
  int64_t participants = 0;
  bool enroll_only = false;  // only enrolments (memory measurement)
  int64_t nik_offset = 0;    // first participant number (NIKs and event ids move with it)
  int only_region = -1;      // >= 0: every participant in this kab/kota (index into regencies())
};

enum class MixOp : uint8_t { kEnroll, kStatus, kSegment, kRelocate, kTerminate };

// One event. Region indexes are positions in RegionRegistry::regencies().
struct MixEvent {
  MixOp op = MixOp::kEnroll;
  std::string nik;
  std::string event_id;
  int64_t occurred_at_seconds = 0;
  int region = 0;       // the domicile kab/kota the event names (for a relocation: the old one)
  int to_region = 0;    // relocations: the new kab/kota
  int segment = 0;      // enrolments and segment changes: 1..5
  bool active = false;  // enrolments and status changes
};

// A synthetic, well-formed NIK of participant number `i` issued in `region_code` ("12.19").
std::string SyntheticNik(const std::string& region_code, int64_t i);

// The mix: 60% enrolments, 25% status changes, 8% segment changes, 4% relocations, 3%
// terminations (a terminated participant's next event re-enrols it); the first 1,000 events are
// enrolments; participants spread over all 514 kab/kota. Deterministic: the same options give the
// same events. Generates one event at a time, so a caller holds only what it batches.
class EventMix {
 public:
  // `regions` is not owned and must outlive the mix.
  EventMix(const RegionRegistry& regions, const MixOptions& options);

  // The next event into `*event`; false once `options.events` have been produced.
  bool Next(MixEvent* event);

  int64_t participants() const { return people_; }

 private:
  struct Person {
    uint16_t region = 0;
    bool enrolled = false, gone = false;
  };

  const std::vector<const Region*>& kabs_;
  MixOptions options_;
  int64_t people_;
  std::vector<Person> state_;
  std::mt19937_64 rng_{7};
  int64_t produced_ = 0;
  int64_t ts_ = 1735689600;
  int64_t next_new_ = 0;
};

}  // namespace uhc
