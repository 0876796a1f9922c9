#include "tests/support/timeline_model.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "common/domain/timeline.h"

namespace uhc::testing {
namespace {

void AddCode(Slots* s, int code, int64_t times) {
  if (code == 0) return;
  (*s)[static_cast<size_t>((code - 1) % 5 + 1)] += times;
  if (code > 5) (*s)[static_cast<size_t>(code)] += times;
}

}  // namespace

void Book(DayFigures* figures, const std::string& region, int64_t day, int from, int to,
          int64_t times) {
  Slots& s = (*figures)[{region, day}];
  AddCode(&s, from, -times);
  AddCode(&s, to, times);
}

DayFigures NonZero(const DayFigures& figures) {
  DayFigures out;
  for (const auto& [key, slots] : figures) {
    if (std::any_of(slots.begin(), slots.end(), [](int64_t v) { return v != 0; })) out[key] = slots;
  }
  return out;
}

// The reference: each participant's events folded together, in order, whatever region they name.
DayFigures Reference(const std::vector<Event>& events) {
  std::map<int, std::vector<Event>> by_participant;
  for (const Event& e : events) by_participant[e.participant].push_back(e);
  DayFigures figures;
  for (auto& [p, list] : by_participant) {
    std::sort(list.begin(), list.end(), [](const Event& a, const Event& b) {
      return std::tie(a.ts, a.id) < std::tie(b.ts, b.id);
    });
    std::string region;  // "" : not a participant
    timeline::State state;
    for (const Event& e : list) {
      std::string next_region = region;
      timeline::State next = state;
      const bool here = !region.empty() && region == e.region;
      if (e.op == timeline::kEnroll) {
        next_region = e.region;
        next = timeline::State::FromByte(e.arg);
      } else if (e.op == timeline::kStatus && here) {
        next.active = e.arg != 0;
      } else if (e.op == timeline::kSegment && here) {
        next.segment = e.arg;
      } else if (e.op == timeline::kLeave && here) {
        next_region = e.to;
      } else if (e.op == timeline::kTerminate && here) {
        next_region.clear();
        next = timeline::State{};
      }
      const int64_t day = timeline::WibDay(e.ts);
      if (next_region != region) {
        if (!region.empty()) Book(&figures, region, day, state.code(), 0, 1);
        if (!next_region.empty()) Book(&figures, next_region, day, 0, next.code(), 1);
      } else if (!region.empty() && next != state) {
        Book(&figures, region, day, state.code(), next.code(), 1);
      }
      region = next_region;
      state = next;
    }
  }
  return NonZero(figures);
}

// Random histories: every kind, re-enrolments, moves back and forth, terminations, events on one
// instant and across midnight WIB, events naming a region the participant is not in. An
// enrolment names the participant's region (or any, when not a participant anywhere): the
// region-sharded layout cannot see an enrolment elsewhere without a relocation (DESIGN.md).
std::vector<Event> History(std::mt19937_64& rng, int participants, int days) {
  const std::vector<std::string> regions = {"11.01", "11.02", "12.03", "31.71"};
  std::vector<Event> events;
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  for (int p = 0; p < participants; ++p) {
    std::string region;
    std::set<uint32_t> ids;
    uint64_t ts = kModel2025 + static_cast<uint64_t>(pick(days)) * kModelDayMs +
                  static_cast<uint64_t>(pick(24)) * 3'600'000;
    const int n = 1 + pick(7);
    for (int k = 0; k < n; ++k) {
      Event e;
      e.participant = p;
      // Events of one instant go in id order as generated: the region tracked below is then
      // the fold's.
      uint32_t id;
      do {
        id = k > 0 && events.back().ts == ts
                 ? events.back().id + 1 + static_cast<uint32_t>(pick(1000))
                 : static_cast<uint32_t>(rng() >> 34);
      } while (!ids.insert(id).second);
      e.id = id;
      e.ts = ts;
      const int kind = pick(10);
      const std::string somewhere = regions[static_cast<size_t>(pick(4))];
      e.region = region.empty() || pick(8) == 0 ? somewhere : region;
      if (region.empty() || kind == 0) {
        e.op = timeline::kEnroll;
        if (!region.empty()) e.region = region;
        e.arg = static_cast<uint8_t>((1 + pick(5)) | (pick(2) ? 8 : 0));
      } else if (kind <= 3) {
        e.op = timeline::kStatus;
        e.arg = static_cast<uint8_t>(pick(2));
      } else if (kind <= 5) {
        e.op = timeline::kSegment;
        e.arg = static_cast<uint8_t>(1 + pick(5));
      } else if (kind <= 8) {
        e.op = timeline::kLeave;
        do {
          e.to = regions[static_cast<size_t>(pick(4))];
        } while (e.to == e.region);
      } else {
        e.op = timeline::kTerminate;
      }
      // The participant's region by the events so far (they come in time order here).
      if (e.op == timeline::kEnroll) {
        region = e.region;
      } else if (e.region == region && e.op == timeline::kLeave) {
        region = e.to;
      } else if (e.region == region && e.op == timeline::kTerminate) {
        region.clear();
      }
      events.push_back(e);
      const int gap = pick(4);  // the same instant, hours later (across midnight), days later
      ts += gap == 0   ? 0
            : gap == 1 ? 3'600'000 * static_cast<uint64_t>(1 + pick(20))
                       : kModelDayMs * static_cast<uint64_t>(1 + pick(90));
    }
  }
  return events;
}

// The first (region, day) where two figures differ, for a readable failure.
std::string FirstDifference(const DayFigures& got, const DayFigures& want) {
  std::set<std::pair<std::string, int64_t>> keys;
  for (const auto& [k, v] : got) keys.insert(k);
  for (const auto& [k, v] : want) keys.insert(k);
  for (const auto& k : keys) {
    const auto g = got.find(k), w = want.find(k);
    const Slots zero{};
    const Slots& a = g == got.end() ? zero : g->second;
    const Slots& b = w == want.end() ? zero : w->second;
    if (a != b) {
      std::string out = k.first + " day " + std::to_string(k.second) + ": got";
      for (int i = 1; i <= 10; ++i) out += " " + std::to_string(a[static_cast<size_t>(i)]);
      out += ", want";
      for (int i = 1; i <= 10; ++i) out += " " + std::to_string(b[static_cast<size_t>(i)]);
      return out;
    }
  }
  return "";
}

}  // namespace uhc::testing
