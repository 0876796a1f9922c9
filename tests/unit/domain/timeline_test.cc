#include "common/domain/timeline.h"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/timeline_model.h"

namespace uhc::timeline {
namespace {

using testing::Book;
using testing::DayFigures;
using testing::Event;
using testing::FirstDifference;
using testing::History;
using testing::NonZero;
using testing::Reference;
using testing::Slots;

constexpr uint64_t kDayMs = 86'400'000;
constexpr uint64_t k2025 = 1'735'664'400'000;  // 2025-01-01 00:00 WIB

Entry Enroll(uint64_t ts, uint32_t id, int segment, bool active) {
  return {ts, id, kEnroll, static_cast<uint8_t>(segment | (active ? 8 : 0)), 0, {}};
}
Entry Status(uint64_t ts, uint32_t id, bool active) {
  return {ts, id, kStatus, static_cast<uint8_t>(active), 0, {}};
}

TEST(TimelineTest, AnEnrolmentAloneIsTwelveBytesAndEveryEntryRoundTrips) {
  Timeline t;
  Insert(&t, Enroll(k2025, 7, 3, true));
  EXPECT_EQ(Encode(t).size(), 12u);
  Insert(&t, {k2025 + 5, 9, kLeave, 0, 0, "12.03"});
  Insert(&t, {k2025 + 6, 1, kEnter, State{2, false}.byte(), 300, {}});
  Insert(&t, Status(k2025 + 2, 4, false));
  Insert(&t, {k2025 + 3, 4, kSegment, 5, 0, {}});
  Insert(&t, {k2025 + 9, 4, kTerminate, 0, 0, {}});
  Compact(&t, k2025 + 3);
  const std::string bytes = Encode(t);
  const auto back = Decode(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(Encode(*back), bytes);
  EXPECT_EQ(back->folded, 2u);
  EXPECT_EQ(back->base, (State{3, false}));
  ASSERT_EQ(back->entries.size(), 4u);
  EXPECT_EQ(back->entries[1].to, "12.03");
  EXPECT_EQ(back->entries[2].version, 300u);
}

TEST(TimelineTest, MalformedBytesAreRefused) {
  Timeline t;
  Insert(&t, Enroll(k2025, 7, 3, true));
  Insert(&t, Enroll(k2025 + 1, 7, 3, true));
  const std::string good = Encode(t);
  EXPECT_FALSE(Decode("").has_value());
  EXPECT_FALSE(Decode(good.substr(0, 13)).has_value());  // a partial entry
  std::string unordered = good.substr(0, 1) + good.substr(12, 11) + good.substr(1, 11);
  EXPECT_FALSE(Decode(unordered).has_value());
  std::string bad_op = good;
  bad_op[11] = static_cast<char>(8 << 4);
  EXPECT_FALSE(Decode(bad_op).has_value());
  std::string bad_segment = good;
  bad_segment[11] = static_cast<char>(kEnroll << 4 | 6);
  EXPECT_FALSE(Decode(bad_segment).has_value());
  std::string bad_base = good;
  bad_base[0] = 7;
  EXPECT_FALSE(Decode(bad_base).has_value());
}

// The probe of the issue: a deactivation (June) delivered before the enrolment (March) is kept;
// when the enrolment arrives the participant counts active from March to June and inactive after.
TEST(TimelineTest, ADeactivationBeforeItsEnrolmentTakesEffectWhenTheEnrolmentArrives) {
  const uint64_t march = k2025 + 60 * kDayMs, june = k2025 + 152 * kDayMs;
  Timeline t;
  const InsertResult first = Insert(&t, Status(june, 2, false));
  EXPECT_EQ(first.outcome, Outcome::kApplied);
  EXPECT_TRUE(first.changes.empty());
  const InsertResult second = Insert(&t, Enroll(march, 1, 4, true));
  EXPECT_EQ(second.outcome, Outcome::kApplied);
  EXPECT_EQ(second.now_after, (State{4, false}));
  ASSERT_EQ(second.changes.size(), 2u);
  EXPECT_EQ(second.changes[0].day, WibDay(march));
  EXPECT_EQ(second.changes[0].from, 0);
  EXPECT_EQ(second.changes[0].to, 9);  // segment 4, active
  EXPECT_EQ(second.changes[1].day, WibDay(june));
  EXPECT_EQ(second.changes[1].from, 9);
  EXPECT_EQ(second.changes[1].to, 4);
  EXPECT_EQ(Insert(&t, Status(june, 2, false)).outcome, Outcome::kDuplicate);
}

// A late status change before a relocation changes what the relocation carried: the LEAVE sends
// its ENTER again with a larger version; the destination keeps the largest.
TEST(TimelineTest, ALateEventBeforeALeaveSendsItsEnterAgainAndTheLargestVersionWins) {
  Timeline a, b;
  Insert(&a, Enroll(k2025, 1, 2, true));
  const InsertResult leave = Insert(&a, {k2025 + 10 * kDayMs, 2, kLeave, 0, 0, "b"});
  ASSERT_EQ(leave.follow_ups.size(), 1u);
  EXPECT_EQ(leave.follow_ups[0].carried, (State{2, true}));
  const InsertResult late = Insert(&a, Status(k2025 + 5 * kDayMs, 3, false));
  ASSERT_EQ(late.follow_ups.size(), 1u);
  EXPECT_EQ(late.follow_ups[0].carried, (State{2, false}));
  EXPECT_GT(late.follow_ups[0].version, leave.follow_ups[0].version);
  // Delivered newest first: the older one changes nothing.
  EXPECT_EQ(Insert(&b, late.follow_ups[0].AsEnter()).outcome, Outcome::kApplied);
  const InsertResult stale = Insert(&b, leave.follow_ups[0].AsEnter());
  EXPECT_EQ(stale.outcome, Outcome::kDuplicate);
  EXPECT_TRUE(stale.changes.empty());
  EXPECT_EQ(FoldTimeline(b).now(), (State{2, false}));
  // A retry of the late event (a crash lost its follow-up) sends it again.
  const InsertResult retry = Insert(&a, Status(k2025 + 5 * kDayMs, 3, false));
  EXPECT_EQ(retry.outcome, Outcome::kDuplicate);
  ASSERT_EQ(retry.follow_ups.size(), 1u);
  EXPECT_EQ(retry.follow_ups[0].version, late.follow_ups[0].version);
}

// ---- The property: the region-sharded timelines, fed any arrival order, batching, duplicates,
// resends and follow-ups delivered late, out of order or lost and healed by a retry, give every
// region's count changes by day exactly as the fold of each participant's events, all regions
// together, in (event_time, event id hash) order.

// Region-sharded timelines fed deliveries in the given order. Follow-ups wait in a pool and go
// at random moments, in random order; some are lost (a crash between the steps) and healed by
// the retry of the event that sent them.
DayFigures Deliver(std::vector<Event> deliveries, std::mt19937_64& rng, bool lose_some) {
  std::map<std::pair<std::string, int>, Timeline> store;
  DayFigures figures;
  struct Pending {
    FollowUp follow_up;
    int participant;
    Event source;
  };
  std::vector<Pending> pool;
  auto apply = [&](const std::string& region, int participant, const Entry& entry,
                   const Event& source) {
    const InsertResult r = Insert(&store[{region, participant}], entry);
    for (const Change& c : r.changes) Book(&figures, region, c.day, c.from, c.to, c.times);
    for (const FollowUp& f : r.follow_ups) pool.push_back({f, participant, source});
  };
  auto send_pending = [&] {
    const size_t k = rng() % pool.size();
    Pending p = pool[k];
    pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(k));
    if (lose_some && rng() % 10 == 0) {
      deliveries.push_back(p.source);  // the producer's retry, after the crash
      return;
    }
    apply(p.follow_up.to, p.participant, p.follow_up.AsEnter(), p.source);
  };
  for (size_t next = 0; next < deliveries.size();) {
    if (!pool.empty() && rng() % 3 == 0) {
      send_pending();
      continue;
    }
    const Event e = deliveries[next++];
    apply(e.region, e.participant, Entry{e.ts, e.id, e.op, e.arg, 0, e.to}, e);
  }
  while (!pool.empty()) {
    lose_some = false;
    send_pending();
  }
  return NonZero(figures);
}

TEST(TimelineTest, AnyArrivalOrderGivesTheFoldOfEveryParticipantsEvents) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    std::mt19937_64 rng(seed);
    const std::vector<Event> events = History(rng, 400, 730);
    const DayFigures expected = Reference(events);
    ASSERT_FALSE(expected.empty());
    std::vector<Event> in_order = events;
    std::sort(in_order.begin(), in_order.end(), [](const Event& a, const Event& b) {
      return std::tie(a.ts, a.id) < std::tie(b.ts, b.id);
    });
    std::vector<Event> shuffled = events;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    std::vector<Event> reversed(in_order.rbegin(), in_order.rend());
    std::vector<Event> resent = shuffled;  // batches sent again, whole or in part
    for (size_t k = 0; k < events.size() / 5; ++k) resent.push_back(events[rng() % events.size()]);
    std::shuffle(resent.begin(), resent.end(), rng);
    EXPECT_EQ(FirstDifference(Deliver(in_order, rng, false), expected), "")
        << "in order, seed " << seed;
    EXPECT_EQ(FirstDifference(Deliver(shuffled, rng, false), expected), "")
        << "shuffled, seed " << seed;
    EXPECT_EQ(FirstDifference(Deliver(reversed, rng, false), expected), "")
        << "reversed, seed " << seed;
    EXPECT_EQ(FirstDifference(Deliver(resent, rng, true), expected), "")
        << "resent, follow-ups lost, seed " << seed;
  }
}

// Many arrival orders of one participant's few events at a time (with resends and lost
// follow-ups): a failure names the events and the order.
TEST(TimelineTest, EveryOrderOfOneParticipantsEventsGivesTheirFold) {
  std::mt19937_64 rng(7);
  const std::vector<Event> events = History(rng, 300, 730);
  for (int p = 0; p < 300; ++p) {
    std::vector<Event> mine;
    for (const Event& e : events) {
      if (e.participant == p) mine.push_back(e);
    }
    const DayFigures expected = Reference(mine);
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<Event> order = mine;
      order.push_back(mine[rng() % mine.size()]);
      std::shuffle(order.begin(), order.end(), rng);
      const std::string difference = FirstDifference(Deliver(order, rng, true), expected);
      if (difference.empty()) continue;
      std::string story;
      for (const Event& e : order) {
        story += e.region + " op " + std::to_string(e.op) + " at " + std::to_string(e.ts) + " id " +
                 std::to_string(e.id) + " to " + e.to + "\n";
      }
      FAIL() << difference << " after\n" << story;
    }
  }
}

TEST(TimelineTest, CompactingBeforeTheWindowChangesNoAnswerAfterIt) {
  std::mt19937_64 rng(99);
  const std::vector<Event> events = History(rng, 300, 400);
  const uint64_t window = k2025 + 200 * kDayMs;
  std::map<std::pair<std::string, int>, Timeline> store;
  for (const Event& e : events) {
    if (e.op != kLeave) Insert(&store[{e.region, e.participant}], {e.ts, e.id, e.op, e.arg, 0, {}});
  }
  for (auto& [key, t] : store) {
    const Timeline before = t;
    Compact(&t, window);
    const Fold a = FoldTimeline(before), b = FoldTimeline(t);
    EXPECT_EQ(a.now(), b.now());
    // A late event after the window changes the same counts either way.
    Timeline x = before, y = t;
    const Entry late = Status(window + 5 * kDayMs, 12345, false);
    const InsertResult rx = Insert(&x, late), ry = Insert(&y, late);
    ASSERT_EQ(rx.changes.size(), ry.changes.size());
    for (size_t i = 0; i < rx.changes.size(); ++i) {
      EXPECT_EQ(
          std::tie(rx.changes[i].day, rx.changes[i].from, rx.changes[i].to, rx.changes[i].times),
          std::tie(ry.changes[i].day, ry.changes[i].from, ry.changes[i].to, ry.changes[i].times));
    }
    EXPECT_LE(Encode(t).size(), Encode(before).size());
  }
}

// A participant moving back and forth between two regions 200 times: the versions grow by a few
// a move (adding each ENTER's own version to the next LEAVE's doubled them every two moves and
// passed 2^32 after about 45 moves).
TEST(TimelineTest, VersionsGrowLinearlyAlongMovesBackAndForth) {
  Timeline a, b;
  Insert(&a, Enroll(k2025, 1, 2, true));
  uint32_t last_version = 0;
  for (uint32_t move = 0; move < 200; ++move) {
    Timeline& from = move % 2 == 0 ? a : b;
    Timeline& to = move % 2 == 0 ? b : a;
    const InsertResult leave =
        Insert(&from, {k2025 + (move + 1) * kDayMs, 100 + move, kLeave, 0, 0, "x"});
    ASSERT_EQ(leave.follow_ups.size(), 1u);
    EXPECT_LE(leave.follow_ups[0].version, move + 2);
    last_version = leave.follow_ups[0].version;
    Insert(&to, leave.follow_ups[0].AsEnter());
  }
  EXPECT_LT(last_version, 1000u);
  EXPECT_EQ(FoldTimeline(a).now(), (State{2, true}));
  // A late deactivation before the first move sends the first ENTER again with a larger version;
  // applied, its upgrade raises the next LEAVE's version by one.
  const InsertResult late = Insert(&a, Status(k2025 + kDayMs / 2, 3, false));
  ASSERT_FALSE(late.follow_ups.empty());
  const InsertResult upgraded = Insert(&b, late.follow_ups[0].AsEnter());
  EXPECT_EQ(upgraded.outcome, Outcome::kApplied);
  ASSERT_FALSE(upgraded.follow_ups.empty());
  EXPECT_EQ(Decode(Encode(b))->entries[0].upgrades, 1u);
}

// An ENTER stored by the first release of timelines (op 5, its version only) is read with its
// version as its upgrades, so the LEAVEs after it keep the versions they were sent with.
TEST(TimelineTest, AnEnterOfTheFirstReleaseKeepsTheVersionsAfterIt) {
  std::string bytes(1, '\0');
  const auto entry = [&](uint64_t ts, uint32_t id, uint8_t code) {
    for (int k = 5; k >= 0; --k) bytes.push_back(static_cast<char>((ts >> (8 * k)) & 0xff));
    for (int k = 3; k >= 0; --k) bytes.push_back(static_cast<char>((id >> (8 * k)) & 0xff));
    bytes.push_back(static_cast<char>(code));
  };
  entry(k2025, 1, kEnter << 4 | State{2, true}.byte());
  bytes.push_back(40);  // version 40: its LEAVE was sent as 1 + 40 + 1 = 42
  entry(k2025 + kDayMs, 2, kLeave << 4);
  bytes += "\x01x";
  auto t = Decode(bytes);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->entries[0].upgrades, 40u);
  const InsertResult again = Insert(&*t, t->entries[1]);
  EXPECT_EQ(again.outcome, Outcome::kDuplicate);
  ASSERT_EQ(again.follow_ups.size(), 1u);
  EXPECT_EQ(again.follow_ups[0].version, 42u);
  EXPECT_EQ(Decode(Encode(*t))->entries[0].upgrades, 40u) << "written back with op 7";
  EXPECT_EQ(static_cast<uint8_t>(Encode(*t)[11]) >> 4, kStoredEnter);
}

// The append (in time order, nearly every event): on random timelines of every kind of entry,
// folded or not, an event after the last gives the same result and bytes as Decode, Insert and
// Encode; an event before it, a duplicate, a malformed value or an ENTER of the first release
// is not an append.
TEST(TimelineTest, AppendingEqualsInsertingAnEventAfterTheLast) {
  std::mt19937_64 rng(7);
  const auto random_entry = [&](uint64_t ts) {
    Entry e{ts, static_cast<uint32_t>(rng() % 4), static_cast<uint8_t>(1 + rng() % 6), 0, 0, {}};
    switch (e.op) {
      case kEnroll:
        e.arg = State{static_cast<uint8_t>(1 + rng() % 5), rng() % 2 == 0}.byte();
        break;
      case kStatus:
        e.arg = static_cast<uint8_t>(rng() % 2);
        break;
      case kSegment:
        e.arg = static_cast<uint8_t>(1 + rng() % 5);
        break;
      case kEnter:
        e.arg = rng() % 4 == 0 ? 0 : State{static_cast<uint8_t>(1 + rng() % 5), true}.byte();
        e.version = static_cast<uint32_t>(rng() % 300);
        break;
      case kLeave:
        e.to = rng() % 2 ? "12.03" : "31.71";
        break;
      default:
        break;
    }
    return e;
  };
  int appended = 0;
  for (int round = 0; round < 3000; ++round) {
    Timeline t;
    const int n = static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) Insert(&t, random_entry(k2025 + rng() % (20 * kDayMs)));
    if (rng() % 2 == 0) {
      Insert(&t, {k2025 + 5 * kDayMs, 9, kEnter, State{1, true}.byte(), 3, {}});
      Insert(&t, {k2025 + 5 * kDayMs, 9, kEnter, State{2, true}.byte(), 8, {}});  // upgraded
    }
    if (rng() % 3 == 0) Compact(&t, k2025 + rng() % (10 * kDayMs));
    std::string bytes = Encode(t);
    const std::optional<Summary> summary = Summarize(bytes);
    ASSERT_TRUE(summary.has_value());
    EXPECT_FALSE(summary->legacy);
    EXPECT_EQ(summary->now, FoldTimeline(t).now());
    const Entry entry = random_entry(k2025 + rng() % (25 * kDayMs));
    Timeline inserted = t;
    const InsertResult want = Insert(&inserted, entry);
    const bool after = t.entries.empty() || t.entries.back().Before(entry);
    ASSERT_EQ(summary->After(entry), after);
    if (!after) continue;
    ++appended;
    const InsertResult got = Append(*summary, entry, &bytes);
    EXPECT_EQ(bytes, Encode(inserted));
    EXPECT_EQ(got.outcome, want.outcome);
    EXPECT_EQ(got.now_before, want.now_before);
    EXPECT_EQ(got.now_after, want.now_after);
    ASSERT_EQ(got.changes.size(), want.changes.size());
    for (size_t k = 0; k < got.changes.size(); ++k) {
      EXPECT_EQ(got.changes[k].day, want.changes[k].day);
      EXPECT_EQ(got.changes[k].from, want.changes[k].from);
      EXPECT_EQ(got.changes[k].to, want.changes[k].to);
      EXPECT_EQ(got.changes[k].times, want.changes[k].times);
    }
    ASSERT_EQ(got.follow_ups.size(), want.follow_ups.size());
    for (size_t k = 0; k < got.follow_ups.size(); ++k) {
      EXPECT_EQ(got.follow_ups[k].to, want.follow_ups[k].to);
      EXPECT_EQ(got.follow_ups[k].carried, want.follow_ups[k].carried);
      EXPECT_EQ(got.follow_ups[k].version, want.follow_ups[k].version);
    }
  }
  EXPECT_GT(appended, 1000);
  EXPECT_FALSE(Summarize("").has_value());
  EXPECT_FALSE(Summarize(std::string("\0", 1) + std::string(5, 'x')).has_value());
}

}  // namespace
}  // namespace uhc::timeline
