#pragma once

// A model of issue #26's rule for tests: random participant histories and the reference fold of
// each participant's events, all regions together (the oracle the timelines and both apply
// engines are held to), as count changes by region and WIB day.

#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace uhc::testing {

inline constexpr uint64_t kModelDayMs = 86'400'000;
inline constexpr uint64_t kModel2025 = 1'735'664'400'000;  // 2025-01-01 00:00 WIB

using Slots = std::array<int64_t, 11>;  // 1-5 participants by segment, 6-10 active
using DayFigures = std::map<std::pair<std::string, int64_t>, Slots>;  // (region, day)

// Adds `times` participants going from state code `from` to `to` (seg + 5 * active, 0: none).
void Book(DayFigures* figures, const std::string& region, int64_t day, int from, int to,
          int64_t times);
// The figures without the (region, day) entries that are all zero.
DayFigures NonZero(const DayFigures& figures);

// One event of a history. A relocation is op kLeave with `to`.
struct Event {
  int participant = 0;
  std::string region;
  uint8_t op = 0;  // timeline::kEnroll, kStatus, kSegment, kLeave (a relocation), kTerminate
  uint64_t ts = 0;
  uint32_t id = 0;
  uint8_t arg = 0;
  std::string to;
};

// The reference: each participant's events folded together, in (event_time, id) order,
// whatever region they name; the count changes by (region, day), zeros left out.
DayFigures Reference(const std::vector<Event>& events);

// Random histories of `participants` over `days` from 2025-01-01, in four regions: every kind,
// re-enrolments, moves back and forth, terminations, events on one instant and across midnight
// WIB, events naming a region the participant is not in. An enrolment names the participant's
// region (or any, when not a participant anywhere): the region-sharded layout cannot see an
// enrolment elsewhere without a relocation (docs/DESIGN.md).
std::vector<Event> History(std::mt19937_64& rng, int participants, int days);

// The first (region, day) where two figures differ, described; "" if equal.
std::string FirstDifference(const DayFigures& got, const DayFigures& want);

}  // namespace uhc::testing
