#pragma once

// The Redis data model, in one place: every key, the participant record codec, the aggregate
// hash fields and the ABI of the Lua function libraries (enrollment-svc/uhc_apply_v3.lua,
// classifier-svc/tier_functions.lua). The Lua files state the same layout in their headers;
// tests/integration/schema_golden_test.cc runs them on a real Redis and decodes what they write
// with this codec, and checks their constants against these, so the two cannot drift.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/domain/region_counts.h"
#include "common/redis/apply_constants.h"

struct redisReply;

namespace uhc {

// ---- Keys. Every key of a region carries its code as hash tag (one Redis Cluster slot); the
// recorded tier changes share the tag {tiers}.
std::string AggregateKey(absl::string_view region_code);                // uhc:{12.19}:agg
std::string BucketKey(absl::string_view region_code, uint32_t bucket);  // uhc:{12.19}:p:1f
std::string BucketKeyPattern();                                         // uhc:{*}:p:* (SCAN)
// The region code of an aggregate or bucket key ("" if it is neither).
std::string RegionOfKey(absl::string_view key);
inline constexpr char kMetaKey[] = "uhc:meta";  // hash: bucket_bits, nik_key, layout
// The aggregate layout the data is in: 3 once enrollment-svc moved every aggregate to it; a
// release refuses data of a layout newer than its own (a rollback onto newer data).
inline constexpr char kMetaLayout[] = "layout";
inline constexpr int kDataLayout = 3;
// What an Enroll request_id stands for (string, expiring): uhc:enroll:<request_id>.
std::string EnrollRequestKey(absl::string_view request_id);
inline constexpr char kMetaBucketBits[] = "bucket_bits";
// The fingerprint of the NIK key the data was written with (NikKeyer::Fingerprint).
inline constexpr char kMetaNikKey[] = "nik_key";
std::string RecordedTiersKey();                        // uhc:{tiers}:recorded
std::string TierHistoryKey(absl::string_view region);  // uhc:{tiers}:history:12.19
std::string TierLogKey();                              // uhc:{tiers}:log
std::string TierLogTrimmedKey();                       // uhc:{tiers}:trimmed
// Version-1 tier keys, read once to move their data (tier_log.cc).
std::string V1TierKey(absl::string_view region);     // uhc:{12.19}:tier
std::string V1HistoryKey(absl::string_view region);  // uhc:{12.19}:history
// Day histories, dated admin inputs and frozen cut-offs (their layout: redis/history.h).
std::string DaysKey(absl::string_view region_code);      // uhc:{12.19}:days
std::string SettingsKey(absl::string_view region_code);  // uhc:{12.19}:settings
std::string CutoffIndexKey();                            // uhc:{cutoffs}:index (id -> Cutoff proto)
std::string CutoffDataKey(absl::string_view id);         // uhc:{cutoffs}:data:<id>

// ---- Participant record: the 11-byte value of a bucket hash field (the field is 8 bytes of the
// NIK's keyed HMAC). flags (bits 0-2 segment, bit 3 active, bits 4-6 kind of the last applied
// event), event_time ms (6 bytes, big-endian), hash of the last event id (4 bytes).
enum class RecordKind : uint8_t {
  kEnrolled = apply_constants::K_ENROLLED,
  kStatusChanged = apply_constants::K_STATUS,
  kSegmentChanged = apply_constants::K_SEGMENT,
  kRelocated = apply_constants::K_RELOCATED,    // moved in
  kMovedOut = apply_constants::K_MOVED_OUT,     // tombstone: counts nowhere
  kTerminated = apply_constants::K_TERMINATED,  // tombstone
  // A timeline (uhc_apply_v4) whose events never made the person a participant of the region:
  // events kept until their enrolment arrives. Counts nowhere; never stored as a record.
  kPending = 7,
};
struct ParticipantRecord {
  int segment = 0;  // 1..5
  bool active = false;
  RecordKind kind = RecordKind::kEnrolled;
  uint64_t occurred_at_ms = 0;
  uint32_t event_id_hash = 0;

  // Live records count in their region's aggregate; tombstones do not.
  bool live() const {
    return kind != RecordKind::kMovedOut && kind != RecordKind::kTerminated &&
           kind != RecordKind::kPending;
  }
};
inline constexpr size_t kRecordBytes = 11;
std::string EncodeRecord(const ParticipantRecord& record);
std::optional<ParticipantRecord> DecodeRecord(absl::string_view bytes);
// A bucket field's value of either layout, summed up as a record: a uhc_apply_v3 record as
// DecodeRecord; a timeline (uhc_apply_v4, common/domain/timeline.h) as its state now (segment and
// status, live when a participant), its last entry's instant and event, and its kind: the last
// entry's when live, kMovedOut when it left by a relocation, kTerminated otherwise, kPending when
// never a participant (segment 0). nullopt if malformed.
std::optional<ParticipantRecord> DecodeStoredParticipant(absl::string_view bytes);

// ---- Aggregate hash `uhc:{<region>}:agg`.
namespace agg {
inline constexpr char kPopulation[] = "pop";
inline constexpr char kPopulationAsOf[] = "pop_asof";
inline constexpr char kPrioritas[] = "prio";
inline constexpr char kDuesPaidThrough[] = "dues";
inline constexpr char kVersion[] = "ver";
inline constexpr char kParticipants[] = "part";
inline constexpr char kActive[] = "act";
inline constexpr char kNewestEvent[] = "last";
// Layout 3 packs the counts into one field (enrollment-svc/uhc_apply_v3.lua): n1..n5 then a1..a5
// as 4-byte big-endian signed integers, then the events applied (6 bytes), the newest event_time
// ms (6), the current day (4, signed, -1 for none) and the counts that day began with (40): 96
// bytes. Layouts 1 (named fields) and 2 (a 40-byte `c`) are moved to it by enrollment-svc when it
// starts (uhc_migrate_layout_v3) and read nowhere else; uhc:meta's `layout` says it is done.
inline constexpr char kPackedCounts[] = "c";
std::string ParticipantsOf(int segment);  // "n3"
std::string ActiveOf(int segment);        // "a3"
}  // namespace agg

// A region's aggregate hash, decoded.
struct RegionAggregate {
  RegionCounts counts;  // population, per-segment counts, status
  int64_t version = 0;
};
// Field `c` (layout 3) decoded; nullopt if it is not.
struct PackedAggregate {
  std::array<int64_t, 10> counts{};  // n1..n5, a1..a5
  int64_t applied = 0;               // add to `ver` for the data version
  int64_t newest_event_ms = 0;
  std::optional<int64_t> current_day;
  std::array<int64_t, 10> current_changes{};  // that day's changes
};
std::optional<PackedAggregate> UnpackAggregate(absl::string_view c);

// Decodes an HGETALL reply of an aggregate hash of layout 3 (missing fields are zero; unknown
// ones ignored).
RegionAggregate ParseAggregate(const redisReply* reply);
// An HGETALL reply of an aggregate hash as field -> integer, with the packed counts under the
// names of layout 1: n1..n5, a1..a5, part and act, `ver` the data version and `last` the newest
// event_time (both partly in `c`). Fields that are not integers (dues, pop_asof) are 0.
std::map<std::string, int64_t> AggregateFields(const redisReply* reply);

// ---- The uhc_v3 library (enrollment-svc/uhc_apply_v3.lua).
namespace apply_abi {
// uhc_v3 (enrollment-svc/uhc_apply_v3.lua): all of a call's events packed into one argument;
// every aggregate key in KEYS is followed by its region's day hash key (common/redis/history.h).
inline constexpr char kApplyFunction[] = "uhc_apply_v3";
// The same as a command of the Redis module uhc_module.so (enrollment-svc/module/uhc_module.cc):
// uhc.apply_v3 <numkeys> <key>... <events>, keys and events as uhc_apply_v3's.
inline constexpr char kApplyCommand[] = "uhc.apply_v3";
// The module's version (uhc.version answers it; a module without that command is version 1):
// version 2 added kPrioDecides, which version 1 would take for an inactive enrolment; version 3
// added uhc.apply_v4 (kApplyCommandV4); version 4 stores an ENTER with its upgrades (op 7).
inline constexpr char kModuleVersionCommand[] = "uhc.version";
inline constexpr int kModuleVersion = 4;
// uhc_apply_v4 (uhc_apply_v3.lua) and the module's uhc.apply_v4: the apply of participants'
// timelines, exact whatever the order of arrival (common/domain/timeline.h). Events of
// kEventArgBytesV4 (EncodeEventArgV4); ARGV: the events, the LEAVEs' destinations, and the
// instant (ms, "0": none) before which written timelines fold their entries.
inline constexpr char kApplyFunctionV4[] = "uhc_apply_v4";
inline constexpr char kApplyCommandV4[] = "uhc.apply_v4";
inline constexpr size_t kEventArgBytesV4 = apply_constants::EVENT4_BYTES;
// KEYS one aggregate: moves it from layout 1 or 2 to layout 3; 1 if it did (enrollment-svc runs
// it on every region at start until uhc:meta says layout 3).
inline constexpr char kMigrateLayoutFunction[] = "uhc_migrate_layout_v3";
// uhc_v3's admin functions: KEYS aggregate, settings hash (history of the inputs).
inline constexpr char kSetPopulationFunction[] = "uhc_set_population_v3";
inline constexpr char kSetStatusFunction[] = "uhc_set_status_v3";
// KEYS day hash; ARGV first day number to keep.
inline constexpr char kTrimDaysFunction[] = "uhc_trim_days_v3";
// The values below are common/redis/apply_constants.h's, which the Lua library's are generated
// from and the module uses.
// Operation codes: byte 0 of each 24-byte event argument.
inline constexpr uint8_t kEnroll = apply_constants::ENROLL;
inline constexpr uint8_t kStatus = apply_constants::STATUS;
inline constexpr uint8_t kSegment = apply_constants::SEGMENT;
inline constexpr uint8_t kLeave = apply_constants::LEAVE;
inline constexpr uint8_t kEnter = apply_constants::ENTER;
inline constexpr uint8_t kTerminate = apply_constants::TERMINATE;
inline constexpr size_t kEventArgBytes = apply_constants::EVENT_BYTES;
// The argument of an ENTER in the same call as its LEAVE: "what the LEAVE removed".
inline constexpr uint8_t kEnterFromLeave = apply_constants::FROM_LEAVE;
// Set in an ENROLL's argument: active exactly when the region holds UHC Prioritas (its aggregate's
// `prio` is "1") when the call applies it, decided inside the atomic call (Enroll). The result
// byte of such an ENROLL, APPLIED or DUPLICATE, carries in bit 6 the status given or stored.
inline constexpr uint8_t kPrioDecides = apply_constants::PRIO_DECIDES;
inline bool ResultActive(uint8_t result) { return (result >> 6) & 1; }
// Result codes: the low 3 bits of each result byte.
inline constexpr uint8_t kApplied = apply_constants::APPLIED;
inline constexpr uint8_t kDuplicate = apply_constants::DUPLICATE;
inline constexpr uint8_t kStale = apply_constants::STALE;
inline constexpr uint8_t kNotFound = apply_constants::NOT_FOUND;
inline constexpr uint8_t kGone = apply_constants::GONE;
inline constexpr uint8_t kSkipped = apply_constants::SKIPPED;
inline uint8_t Outcome(uint8_t result) { return result & 7; }
// A LEAVE's result byte also carries the segment (bits 3-5) and active (bit 6) it removed; an
// ENTER applied in a later call takes them as its argument (segment | active << 3).
inline uint8_t CarriedEnterArg(uint8_t leave_result) {
  return static_cast<uint8_t>(((leave_result >> 3) & 7) | (((leave_result >> 6) & 1) << 3));
}
// One event argument: op, aggregate and bucket key indexes (1-based into KEYS), participant
// field (8 bytes), event_time ms, event id hash, argument byte.
std::string EncodeEventArg(uint8_t op, uint16_t aggregate_key, uint16_t bucket_key,
                           absl::string_view field, uint64_t occurred_at_ms, uint32_t event_id_hash,
                           uint8_t arg);
// A uhc_apply_v4 event: EncodeEventArg's 24 bytes, then `extra` (4 bytes): an ENTER's version,
// a LEAVE's destination (1-based index into the destinations argument), else 0.
std::string EncodeEventArgV4(uint8_t op, uint16_t aggregate_key, uint16_t bucket_key,
                             absl::string_view field, uint64_t occurred_at_ms,
                             uint32_t event_id_hash, uint8_t arg, uint32_t extra);
// Appends the event to `out` in place (no string of its own): EncodeEventArgV4's 28 bytes, or with
// no `extra` EncodeEventArg's 24.
void AppendEventArgV4(std::string* out, uint8_t op, uint16_t aggregate_key, uint16_t bucket_key,
                      absl::string_view field, uint64_t occurred_at_ms, uint32_t event_id_hash,
                      uint8_t arg, std::optional<uint32_t> extra);
}  // namespace apply_abi

// ---- uhc_tiers_v2 library (classifier-svc/tier_functions.lua).
namespace tier_abi {
inline constexpr char kRecordFunction[] = "uhc_record_tier_v2";
inline constexpr char kImportHistoryFunction[] = "uhc_import_history_v2";
inline constexpr char kLogChangeField[] = "c";
}  // namespace tier_abi

}  // namespace uhc
