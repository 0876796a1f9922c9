#pragma once

#include <array>
#include <cstdint>
#include <limits>

namespace uhc {

// The largest population an admin may set for one region: far above any real one (Indonesia has
// about 285 million people), and small enough that sums over every region and products with
// basis points and rupiah stay inside int64.
inline constexpr int64_t kMaxPopulation = 500'000'000;

// a + b, held at the int64 limits instead of overflowing (figures read from Redis are not
// trusted to be small).
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

// a - b, held at the int64 limits.
inline int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t difference;
  if (!__builtin_sub_overflow(a, b, &difference)) return difference;
  return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

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
    for (int64_t n : participants) sum = SaturatingAdd(sum, n);
    return sum;
  }
  int64_t Active() const {
    int64_t sum = 0;
    for (int64_t n : active) sum = SaturatingAdd(sum, n);
    return sum;
  }
  int64_t PemdaRegistered() const { return participants[kSegmentPbpuPemda]; }

  // Adds another region's population and participants (roll-ups). Status fields are not summed:
  // a roll-up carries its own region's status.
  void AddCounts(const RegionCounts& other) {
    population = SaturatingAdd(population, other.population);
    for (int s = 0; s < kSegmentSlots; ++s) {
      participants[s] = SaturatingAdd(participants[s], other.participants[s]);
      active[s] = SaturatingAdd(active[s], other.active[s]);
    }
  }
};

}  // namespace uhc
