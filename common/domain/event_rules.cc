#include "common/domain/event_rules.h"

#include "absl/strings/str_cat.h"
#include "common/domain/nik.h"

namespace uhc {
namespace {

// JKN began on 1 January 2014; nothing older can be a participant event.
constexpr int64_t kEarliestEventSeconds = 1388534400;

bool ValidSegment(int segment) {
  return segment >= v1::SEGMENT_PBI_APBN && segment <= v1::SEGMENT_BP;
}

std::string EventIdProblem(const std::string& id) {
  if (id.empty()) return "is required";
  if (id.size() > 128) return absl::StrCat("is ", id.size(), " bytes; at most 128");
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e) return "must be printable ASCII without spaces";
  }
  return "";
}

}  // namespace

const Region* EventValidator::Regency(const std::string& code, std::string* reason) const {
  if (code.empty()) {
    *reason = "is required";
    return nullptr;
  }
  const Region* region = regions_->Find(code);
  if (region == nullptr) {
    *reason = regions_->UnknownCode(code);
    return nullptr;
  }
  if (region->level != RegionLevel::kRegency) {
    *reason = absl::StrCat("'", code, "' is a ",
                           region->level == RegionLevel::kNation ? "nation" : "province",
                           ", not a kab/kota; events name the domicile kab/kota");
    return nullptr;
  }
  return region;
}

PreparedEvent EventValidator::Prepare(const v1::ParticipantEvent& event, int index, bool in_batch,
                                      absl::Time now) const {
  PreparedEvent out;
  out.index = index;
  auto reject = [&](const std::string& field, std::string reason) {
    out.rejected = true;
    out.field = in_batch ? absl::StrCat("events[", index, "].", field) : field;
    out.reason = std::move(reason);
    return out;
  };

  if (std::string problem = EventIdProblem(event.event_id()); !problem.empty()) {
    return reject("event_id", problem);
  }
  absl::StatusOr<Nik> nik = ParseNik(event.nik());
  if (!nik.ok()) return reject("nik", std::string(nik.status().message()));
  std::string reason;
  out.region = Regency(event.region_code(), &reason);
  if (out.region == nullptr) return reject("region_code", reason);

  if (!event.has_event_time()) return reject("event_time", "is required");
  const auto& ts = event.event_time();
  if (ts.nanos() < 0 || ts.nanos() > 999999999) {
    return reject("event_time", "nanos must be 0..999999999");
  }
  if (ts.seconds() < kEarliestEventSeconds) {
    return reject("event_time", "is before JKN began (2014-01-01)");
  }
  if (absl::FromUnixSeconds(ts.seconds()) > now + max_future_skew_) {
    return reject(
        "event_time",
        absl::StrCat("is more than ", absl::FormatDuration(max_future_skew_),
                     " in the future (the producer's clock?); see --max_future_skew_seconds"));
  }
  if (history_days_ > 0) {
    // The window's first day in WIB (UTC+7), as enrollment-svc's trim keeps it: integer days
    // since the epoch (absl's civil time per event cost 2.5 % of the service's CPU at ingest).
    constexpr int64_t kDaySeconds = 86400, kWibSeconds = 7 * 3600;
    const int64_t wib_now = absl::ToUnixSeconds(now) + kWibSeconds;
    const int64_t first_day =
        (wib_now >= 0 ? wib_now / kDaySeconds : -((-wib_now + kDaySeconds - 1) / kDaySeconds)) -
        history_days_;
    if (ts.seconds() < first_day * kDaySeconds - kWibSeconds) {
      const absl::CivilDay first = absl::CivilDay(1970, 1, 1) + first_day;
      return reject("event_time",
                    absl::StrCat("is before the history window, which begins on ",
                                 absl::FormatCivilTime(first), " WIB (--history_days ",
                                 history_days_, "); the days it would change are no longer kept"));
    }
  }
  out.occurred_at_ms = static_cast<uint64_t>(ts.seconds()) * 1000 + ts.nanos() / 1000000;

  switch (event.change_case()) {
    case v1::ParticipantEvent::kEnrolled:
      if (!ValidSegment(event.enrolled().segment())) {
        return reject("enrolled.segment", absl::StrCat("segment ", event.enrolled().segment(),
                                                       " is not a known segment (1-5)"));
      }
      out.op = ApplyOp::kEnroll;
      out.arg =
          static_cast<uint8_t>(event.enrolled().segment() | (event.enrolled().active() ? 8 : 0));
      break;
    case v1::ParticipantEvent::kStatusChanged:
      out.op = ApplyOp::kStatus;
      out.arg = event.status_changed().active() ? 1 : 0;
      break;
    case v1::ParticipantEvent::kSegmentChanged:
      if (!ValidSegment(event.segment_changed().segment())) {
        return reject("segment_changed.segment",
                      absl::StrCat("segment ", event.segment_changed().segment(),
                                   " is not a known segment (1-5)"));
      }
      out.op = ApplyOp::kSegment;
      out.arg = static_cast<uint8_t>(event.segment_changed().segment());
      break;
    case v1::ParticipantEvent::kRelocated:
      out.to_region = Regency(event.relocated().to_region_code(), &reason);
      if (out.to_region == nullptr) return reject("relocated.to_region_code", reason);
      if (out.to_region == out.region) {
        return reject("relocated.to_region_code", "must differ from region_code");
      }
      out.op = ApplyOp::kLeave;
      break;
    case v1::ParticipantEvent::kTerminated:
      out.op = ApplyOp::kTerminate;
      break;
    case v1::ParticipantEvent::CHANGE_NOT_SET:
      return reject("change",
                    "one of enrolled, status_changed, segment_changed, relocated, "
                    "terminated is required");
  }
  out.key = keyer_->Key(event.nik());
  out.event_id_hash = EventIdHash(event.event_id());
  return out;
}

}  // namespace uhc
