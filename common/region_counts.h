#pragma once

#include <array>
#include <cstdint>

namespace uhc {

// Segment values of uhc.v1.Segment are 1..5; index 0 is unused.
inline constexpr int kSegmentSlots = 6;
inline constexpr int kSegmentPbpuPemda = 2;
inline constexpr int kSegmentPbpuMandiri = 4;
inline constexpr int kSegmentBp = 5;

// The aggregate figures of one region (or a roll-up of several): what the policies are evaluated
// on. Plain data, exact integers.
struct RegionCounts {
  int64_t population = 0;
  std::array<int64_t, kSegmentSlots> participants{};  // by segment
  std::array<int64_t, kSegmentSlots> active{};        // by segment
  bool uhc_prioritas = false;
  int dues_paid_through = 0;  // YYYYMM; 0 = never set

  int64_t Participants() const {
    int64_t sum = 0;
    for (int64_t n : participants) sum += n;
    return sum;
  }
  int64_t Active() const {
    int64_t sum = 0;
    for (int64_t n : active) sum += n;
    return sum;
  }
  int64_t PemdaRegistered() const { return participants[kSegmentPbpuPemda]; }

  // Adds another region's population and participants (roll-ups). Status fields are not summed:
  // a roll-up carries its own region's status.
  void AddCounts(const RegionCounts& other) {
    population += other.population;
    for (int s = 0; s < kSegmentSlots; ++s) {
      participants[s] += other.participants[s];
      active[s] += other.active[s];
    }
  }
};

}  // namespace uhc
