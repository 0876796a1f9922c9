#include "tools/loadgen/mix.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace uhc {

std::string SyntheticNik(const std::string& region_code, int64_t i) {
  int serial = static_cast<int>(i % 9999) + 1;
  int64_t rest = i / 9999;
  return absl::StrFormat(
      "%s%s%02d%02d%02d%02d%04d", region_code.substr(0, 2), region_code.substr(3, 2),
      static_cast<int>(rest % 99) + 1, static_cast<int>(rest / 99 % 28) + 1,
      static_cast<int>(rest / 2772 % 12) + 1, static_cast<int>(60 + rest / 33264 % 40), serial);
}

EventMix::EventMix(const RegionRegistry& regions, const MixOptions& options)
    : kabs_(regions.regencies()), options_(options), people_(options.participants) {
  if (people_ == 0) {
    people_ = options.enroll_only ? options.events : std::max<int64_t>(1, options.events * 6 / 10);
  }
  state_.resize(people_);
}

// The draws from the generator, and their order, are those uhc-loadgen made before the mix moved
// here: the same seed gives byte-identical batches.
bool EventMix::Next(MixEvent* e) {
  if (produced_ == options_.events) {
    return false;
  }
  const int64_t n = produced_++;
  *e = MixEvent();
  e->event_id = absl::StrFormat("b%d", options_.nik_offset * 10 + n);
  e->occurred_at_seconds = ++ts_;
  const int r = static_cast<int>(rng_() % 100);
  int64_t i;
  if (options_.enroll_only || r < 60 || next_new_ < 1000) {
    i = next_new_ < people_ ? next_new_++ : static_cast<int64_t>(rng_() % people_);
    Person& p = state_[i];
    p.region = static_cast<uint16_t>(options_.only_region >= 0 ? options_.only_region
                                                               : (i * 7919) % kabs_.size());
    p.enrolled = true;
    p.gone = false;
    e->op = MixOp::kEnroll;
    e->segment = static_cast<int>(1 + rng_() % 5);
    e->active = rng_() % 10 < 8;
  } else {
    i = static_cast<int64_t>(rng_() % next_new_);
    Person& p = state_[i];
    if (p.gone) {
      p.gone = false;
      e->op = MixOp::kEnroll;
      e->segment = 1;  // PBI APBN, inactive
    } else if (r < 85) {
      e->op = MixOp::kStatus;
      e->active = rng_() % 2 == 0;
    } else if (r < 93) {
      e->op = MixOp::kSegment;
      e->segment = static_cast<int>(1 + rng_() % 5);
    } else if (r < 97) {
      const auto to = static_cast<uint16_t>((p.region + 1 + rng_() % 100) % kabs_.size());
      e->op = MixOp::kRelocate;
      e->region = p.region;
      e->to_region = to;
      p.region = to;
    } else {
      e->op = MixOp::kTerminate;
      p.gone = true;
    }
  }
  if (e->op != MixOp::kRelocate) {
    e->region = state_[i].region;
  }
  // The NIK is issued where the participant first enrolled: region (i * 7919) % 514.
  e->nik = SyntheticNik(kabs_[(i * 7919) % kabs_.size()]->code, options_.nik_offset + i);
  return true;
}

}  // namespace uhc
