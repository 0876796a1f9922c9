#pragma once

// A participant's timeline in one region, and the rule that makes every answer independent of
// the order events arrive in (issue #26, docs/DESIGN.md "Exact whatever the order").
//
// A participant's state at instant t is the fold, in order of (event_time, event id hash), of
// their distinct events with event_time <= t, from "not a participant". Events are kept where
// they are applied today, under the hash tag of the region they name (a region's writes stay in
// one slot): the timeline of (region R, participant p) holds p's events that name R, and the
// arrivals relocations carried into R. Folded alone it gives p's state in R over time:
//   ENROLL{segment, active}      a participant of R with that segment and status;
//   STATUS{active} / SEGMENT{s}  sets it, if a participant of R at that point;
//   LEAVE{to}                    if a participant of R, no longer one: the state it had is
//                                carried to region `to` (an ENTER there);
//   ENTER{carried, version}      a participant of R with the carried state (none: no effect);
//   TERMINATE                    if a participant of R, no longer one.
// Inserting an event refolds the timeline; the differences between the old and the new fold are
// the region's count changes, by the WIB day of each transition, whatever the order of arrival.
// A LEAVE whose carried state changes (a late event before it) sends its ENTER again, with a
// larger version: the destination keeps the ENTER of the largest version (FollowUp).
//
// Pure: no I/O. The Redis module links it; the Lua function states the same rule
// (enrollment-svc/uhc_apply_v3.lua) and tests keep the two equal.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/redis/apply_constants.h"

namespace uhc::timeline {

// Operation codes, as in the apply's ABI (common/redis/apply_constants.h).
inline constexpr uint8_t kEnroll = apply_constants::ENROLL;
inline constexpr uint8_t kStatus = apply_constants::STATUS;
inline constexpr uint8_t kSegment = apply_constants::SEGMENT;
inline constexpr uint8_t kLeave = apply_constants::LEAVE;
inline constexpr uint8_t kEnter = apply_constants::ENTER;
inline constexpr uint8_t kTerminate = apply_constants::TERMINATE;

// Instants from here on (the year 2149) are refused: the apply keys a day in 16 bits.
inline constexpr uint64_t kLastMs = apply_constants::LAST_MS;

// A participant's state in a region: segment 1-5 and status, or not a participant (segment 0).
struct State {
  uint8_t segment = 0;
  bool active = false;

  bool in() const { return segment != 0; }
  // The apply's state code: segment + 5 * active (1-10), 0 when not a participant.
  int code() const { return in() ? segment + 5 * (active ? 1 : 0) : 0; }
  // segment | active << 3, as an ENROLL's argument byte (0: none).
  uint8_t byte() const { return in() ? static_cast<uint8_t>(segment | (active ? 8 : 0)) : 0; }
  static State FromByte(uint8_t b) {
    const auto segment = static_cast<uint8_t>(b & 7);
    return segment == 0 ? State{} : State{segment, (b & 8) != 0};
  }
  friend bool operator==(const State& a, const State& b) {
    return a.segment == b.segment && (a.segment == 0 || a.active == b.active);
  }
  friend bool operator!=(const State& a, const State& b) { return !(a == b); }
};

struct Entry {
  uint64_t occurred_at_ms = 0;
  uint32_t event_id_hash = 0;
  uint8_t op = 0;
  // ENROLL: segment | active << 3; STATUS: active (0/1); SEGMENT: segment; ENTER: the carried
  // state's byte (0: none); LEAVE and TERMINATE: 0.
  uint8_t arg = 0;
  uint32_t version = 0;   // ENTER: the version of the carried state (FollowUp)
  std::string to;         // LEAVE: the destination region's code
  uint32_t upgrades = 0;  // ENTER: how often a larger version replaced it here

  // Entries are ordered, and identified, by (event_time, event id hash).
  bool Before(const Entry& other) const {
    return occurred_at_ms != other.occurred_at_ms ? occurred_at_ms < other.occurred_at_ms
                                                  : event_id_hash < other.event_id_hash;
  }
  bool SameEvent(const Entry& other) const {
    return occurred_at_ms == other.occurred_at_ms && event_id_hash == other.event_id_hash;
  }
};

struct Timeline {
  State base;                  // the state at the first entry: from entries folded away (Compact)
  uint32_t folded = 0;         // how many entries were folded into `base`
  std::vector<Entry> entries;  // ordered by Entry::Before, distinct
};

// Stored form (a bucket hash value): a header byte (base state byte, bit 7 set when a varint
// `folded` follows), then per entry event_time ms (6 bytes big-endian), event id hash (4), op << 4
// | arg (1); a LEAVE then the length of `to` (1) and its bytes. An ENTER is stored with op 7 (not
// 5) and then its version and its upgrades (varints); one stored with op 5 (by the first release
// of timelines) has its version only, and its upgrades are taken to be its version, which keeps
// every later LEAVE's version what it was then. An ENROLL alone is 12 bytes.
inline constexpr uint8_t kStoredEnter = apply_constants::STORED_ENTER;
std::string Encode(const Timeline& timeline);
// nullopt if the bytes are not a well-formed timeline (ordered, distinct, ops and args in range).
std::optional<Timeline> Decode(absl::string_view bytes);
// One entry's stored bytes, appended to `out`.
void EncodeEntry(const Entry& e, std::string* out);

// The WIB (UTC+7) day of an instant: days since 1970-01-01.
int64_t WibDay(uint64_t ms);

// A change of a region's counts: `times` participants went from state code `from` to `to` on
// WIB day `day` (times may be negative: a retraction).
struct Change {
  int64_t day = 0;
  int from = 0;
  int to = 0;
  int times = 0;
};

// An ENTER a LEAVE sends to its destination: the participant is `carried` from the LEAVE's
// instant on, as of `version`: the sum over the entries at or before the LEAVE (folded ones
// included) of 1 plus, for an ENTER, its upgrades. It grows whenever an event is inserted before
// the LEAVE or an ENTER before it is replaced by a larger version, and equal versions mean equal
// entries, so equal carried states; the destination keeps the largest. It grows by one per
// change, so by at most the events ever sent (a chain of moves back and forth does not compound
// it, as adding the ENTERs' own versions did).
struct FollowUp {
  std::string to;
  uint64_t occurred_at_ms = 0;
  uint32_t event_id_hash = 0;
  State carried;
  uint32_t version = 0;

  Entry AsEnter() const {
    return Entry{occurred_at_ms, event_id_hash, kEnter, carried.byte(), version, {}};
  }
};

enum class Outcome {
  kApplied,    // kept (an ENTER: replaced one of a smaller version)
  kDuplicate,  // the same (event_time, event id hash) is kept already (an ENTER: of a version
               // as large)
};

struct InsertResult {
  Outcome outcome = Outcome::kApplied;
  std::vector<Change> changes;       // the region's count changes, nonzero, by (day, from, to)
  std::vector<FollowUp> follow_ups;  // ENTERs to send (see Insert)
  State now_before, now_after;       // the state after the last entry, before and after
};

// Inserts `entry` (a valid one) into `timeline`. Follow-ups: every LEAVE at or after the entry's
// place, applied or duplicate, whether or not its carried state changed. Sending them all keeps
// the rule simple and heals a crash between an insert and its follow-ups: the retry (a
// duplicate) sends them again, and so does each ENTER it reaches, down a chain of moves. The
// destination keeps the largest version, so sending again changes nothing else; in time order
// the entry is the last and only a LEAVE sends one.
InsertResult Insert(Timeline* timeline, const Entry& entry);

// ---- The append: an event after every entry of its timeline (in time order: nearly all).

// What an append needs of stored bytes, read in one pass without building the timeline (and
// checked as Decode checks them).
struct Summary {
  State now;            // the state after the last entry
  uint32_t weight = 0;  // folded + the entries' weights: a LEAVE appended now has this + 1
  size_t entries = 0;
  uint64_t first_ms = 0;  // the first entry's instant (entries > 0)
  uint64_t last_ms = 0;   // the last entry's place (entries > 0)
  uint32_t last_id = 0;
  bool legacy = false;  // an ENTER stored with op 5: Encode would rewrite it

  // Whether `e` goes after every entry.
  bool After(const Entry& e) const {
    return entries == 0 || e.occurred_at_ms > last_ms ||
           (e.occurred_at_ms == last_ms && e.event_id_hash > last_id);
  }
};
std::optional<Summary> Summarize(absl::string_view bytes);

// Inserts `entry`, for which summary.After(entry) holds, into the stored timeline `bytes` that
// `summary` summarises, by appending its bytes: the same result and bytes as Decode, Insert and
// Encode when !summary.legacy (tested), with no timeline built.
InsertResult Append(const Summary& summary, const Entry& entry, std::string* bytes);

// Folds the entries before `before_ms` into the base state (they can no longer change: events
// older than the history window are refused; an ENTER whose LEAVE is older than the window is not
// sent again). Returns how many were folded.
size_t Compact(Timeline* timeline, uint64_t before_ms);

// The fold: the state after each entry (states[i] after entries[i]), and each LEAVE's carried
// state (the state before it; none if not a participant then).
struct Fold {
  State base;
  std::vector<State> states;
  std::vector<State> carried;  // per entry; meaningful for LEAVEs
  State now() const { return states.empty() ? base : states.back(); }
};
Fold FoldTimeline(const Timeline& timeline);

}  // namespace uhc::timeline
