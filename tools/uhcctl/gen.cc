// uhcctl gen: a synthetic but plausible national dataset, seeded and reproducible.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/config/files.h"
#include "common/domain/regions.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"

namespace uhc::cli {
namespace {

// A region's target figures, as fractions of its population.
struct Profile {
  double coverage, activity, pemda;
  bool prioritas;
  const char* dues;
  // Meant to miss 98 % coverage (1) or 80 % activity (2) narrowly: kept below after rounding,
  // which small populations at a large --scale would otherwise undo.
  int below = 0;
};

// Draws a profile aiming at a tier of uhc-awards-2026, in the shares of the published 2026
// result (of 514 kab/kota: 75 Utama, 192 Madya, 130 Pratama, 117 none); some land just below a
// threshold. Larger kab/kota lean to lower activity, as the big cities do, so that the national
// figures land near the published ones (coverage ~98 %, activity ~80 % of the population).
Profile DrawProfile(std::mt19937_64& rng, int64_t real_population) {
  std::uniform_real_distribution<double> u(0, 1);
  auto in = [&](double lo, double hi) { return lo + (hi - lo) * u(rng); };
  // 0 for the smallest kab/kota, 1 for a million residents and more.
  const double size =
      std::clamp(std::log10(std::max<int64_t>(real_population, 10000)) - 4.0, 0.0, 2.0) / 2.0;
  double pick = u(rng) + 0.16 * (size - 0.7);
  if (pick < 0.170) return {in(0.992, 1.02), in(0.952, 0.99), in(0.19, 0.30), true, "2025-12"};
  if (pick < 0.455) return {in(0.982, 0.995), in(0.853, 0.88), in(0.105, 0.17), true, "2025-11"};
  if (pick < 0.530) return {in(0.982, 0.995), in(0.803, 0.83), in(0.255, 0.33), true, "2025-10"};
  if (pick < 0.770) return {in(0.981, 0.992), in(0.802, 0.82), in(0.02, 0.09), true, "2025-09"};
  if (pick < 0.840) return {in(0.9785, 0.9799), in(0.78, 0.84), in(0.05, 0.15), true, "2025-09", 1};
  if (pick < 0.890)
    return {in(0.981, 0.990), in(0.760, 0.7995), in(0.05, 0.12), true, "2025-09", 2};
  if (pick < 0.950)
    return {in(0.93, 0.975), in(0.55, 0.72), in(0.02, 0.10), u(rng) < 0.5, "2025-06"};
  return {in(0.965, 0.99), in(0.55, 0.75), in(0.03, 0.10), false, "2025-08"};
}

// code -> registered population, from population-2025.csv ("code,name,male,female,total").
absl::StatusOr<std::map<std::string, int64_t>> ReadPopulation(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  std::map<std::string, int64_t> out;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    if (++line_number == 1) continue;  // header
    std::vector<absl::string_view> cells = absl::StrSplit(absl::StripSuffix(line, "\r"), ',');
    int64_t total = 0;
    if (cells.size() != 5 || !absl::SimpleAtoi(cells[4], &total) || total < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": want code,name,male,female,total"));
    }
    out[std::string(cells[0])] = total;
  }
  return out;
}

// A valid NIK issued in `region` ("NN.NN"): district, birth date and serial from `i`.
std::string RegionNik(const std::string& region, int64_t i) {
  int serial = static_cast<int>(i % 9999) + 1;
  int64_t rest = i / 9999;
  int district = static_cast<int>(rest % 99) + 1;
  rest /= 99;
  int day = static_cast<int>(rest % 28) + 1 + (rest / 28 % 2 ? 40 : 0);
  int month = static_cast<int>(rest / 56 % 12) + 1;
  int year = static_cast<int>(60 + rest / 672 % 40);
  return absl::StrFormat("%s%s%02d%02d%02d%02d%04d", region.substr(0, 2), region.substr(3, 2),
                         district, day, month, year, serial);
}

struct Event {
  int64_t ts;
  std::string json;
};

std::string EventJson(const std::string& id, const std::string& nik, const std::string& region,
                      int64_t ts, const std::string& change) {
  return absl::StrFormat(
      "{\"event_id\":\"%s\",\"nik\":\"%s\",\"region_code\":\"%s\",\"event_time\":\"%s\",%s}", id,
      nik, region,
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(ts), absl::UTCTimeZone()),
      change);
}

const char* kSegmentNames[] = {
    "",          "SEGMENT_PBI_APBN", "SEGMENT_PBPU_PEMDA", "SEGMENT_PPU", "SEGMENT_PBPU_MANDIRI",
    "SEGMENT_BP"};

constexpr int64_t kDay = 86400;
constexpr int64_t kHour = 3600;

// The period the events fall in, in unix seconds: from 00:00 WIB `months` before the generation
// day to 00:00 WIB of that day, so every event is in the past whenever it is ingested that day.
struct Window {
  int64_t start, end;
};

Window WindowOf(absl::Time now, int months) {
  const absl::TimeZone wib = absl::FixedTimeZone(7 * 3600);
  const absl::CivilDay today = absl::ToCivilDay(now, wib);
  // CivilDay normalizes: a day the month lacks (September 31st) is one of the next month's first.
  const absl::CivilDay first(today.year(), today.month() - months, today.day());
  return {absl::ToUnixSeconds(absl::FromCivil(first, wib)),
          absl::ToUnixSeconds(absl::FromCivil(today, wib))};
}

// When a kab/kota's events happen, which tells its story. Its participants enrol over
// [start, drive_start), most in the first weeks (the membership the period opens with), then
// fewer and fewer; a registration drive by the pemda enrols its last `drive_people` PBPU Pemda
// participants in [drive_start, drive_end], when the region reaches its final figures (and
// tier). A participant's later events (relocation, segment and status changes: activations,
// take-overs by the pemda) fall between their enrolment and drive_end. A late region's drive is
// in the last weeks; in a lapsing region the participants who stop paying do so in the last
// weeks too, after the region held its tier.
//
// scripts/run.sh freezes a cut-off at the end of the month three months back: 59 to 91 days
// before the end of the window, whatever the day. Late drives start at most 54 days before the
// end and lapses 50, early drives end at least 95 days before (with five months or more): the
// cut-off shows every region before its late drive or lapse and after its early drive.
struct Timeline {
  int64_t start, drive_start, drive_end;
  int64_t drive_people;
  bool lapsing;
  int64_t lapse_from, lapse_to;
};

Timeline DrawTimeline(std::mt19937_64& rng, const Window& w, const Profile& p, int64_t pop,
                      int64_t pemda) {
  std::uniform_real_distribution<double> u(0, 1);
  auto clamp = [&](int64_t t) { return std::clamp(t, w.start, w.end - kDay); };
  auto between = [&](int64_t lo, int64_t hi) {
    return clamp(lo +
                 static_cast<int64_t>(u(rng) * static_cast<double>(std::max<int64_t>(0, hi - lo))));
  };
  Timeline t;
  t.start = w.start;
  // Profile 2 misses 80 % activity narrowly: it held Pratama until premiums went unpaid.
  t.lapsing = p.below == 2;
  const bool late = !t.lapsing && u(rng) < 0.3;
  t.drive_end = late ? between(w.end - 40 * kDay, w.end - 2 * kDay)
                     : between(w.start + (w.end - w.start) / 4, w.end - 95 * kDay);
  t.drive_start =
      std::max(w.start, t.drive_end - 5 * kDay - static_cast<int64_t>(u(rng) * 9 * kDay));
  // 0.3 % to 5 % of the residents, mostly small: a small drive lifts a region by a tier, a big
  // one out of none.
  const double drive = 0.003 + 0.047 * std::pow(u(rng), 2);
  t.drive_people = std::min(pemda, static_cast<int64_t>(std::llround(drive * pop)));
  t.lapse_from = clamp(w.end - 50 * kDay);
  t.lapse_to = clamp(w.end - 2 * kDay);
  return t;
}

// The enrolment time of participant `i` from a uniform `x`: the drive's evenly, the others
// with 65 % in the first 5 % of [start, drive_start) and the rest at a density falling to 0 at
// drive_start.
int64_t EnrolTime(const Timeline& t, int64_t i, double x) {
  if (i < t.drive_people) {
    return t.drive_start +
           static_cast<int64_t>(x * static_cast<double>(t.drive_end - t.drive_start));
  }
  constexpr double kOpening = 0.65;
  const double q =
      x < kOpening ? 0.05 * x / kOpening : 1 - std::sqrt(1 - (x - kOpening) / (1 - kOpening));
  return t.start + static_cast<int64_t>(q * static_cast<double>(t.drive_start - t.start));
}

// The time of an event after one at `previous`, from a uniform `y`: at least an hour later,
// else anywhere up to `until`.
int64_t NextTime(int64_t previous, int64_t until, double y) {
  const int64_t earliest = previous + kHour;
  return earliest +
         static_cast<int64_t>(y * static_cast<double>(std::max<int64_t>(0, until - earliest)));
}

}  // namespace

int RunGen(const std::vector<std::string>& args) {
  Command cmd(
      "gen",
      "Writes a synthetic national dataset for all 514 kab/kota: population.csv,\n"
      "region-status.csv and events.jsonl (enrolments, status and segment changes,\n"
      "relocations, terminations). Populations are the registered ones (Dukcapil, end of\n"
      "2024; data/population-2025.csv) divided by --scale; regions are spread over the\n"
      "tiers of uhc-awards-2026 in the published 2026 shares, some just below a\n"
      "threshold. The events occurred over the --months months before today (WIB): most\n"
      "enrolments early, then fewer, each kab/kota reaching its tier with a registration\n"
      "drive by the pemda, three in ten of them in the last weeks, and some losing Pratama\n"
      "in the last weeks as premiums go unpaid. Import population.csv and region-status.csv\n"
      "as of the day of the first event or earlier (population import --as-of, region-status\n"
      "--effective): they stand for the whole period. The same --seed on the same day gives\n"
      "the same files. --late P delivers P % of the events late and out of order, as BPJS's\n"
      "feeds do: each after the events of up to 30 more days (the figures do not change).",
      "[--out DIR] [--scale N] [--seed N] [--months N] [--late P]",
      {{"out", "DIR", "output directory", "run/dataset"},
       {"scale", "N", "1:N of the real size", "1000"},
       {"seed", "N", "random seed", "2026"},
       {"months", "N", "months of events, 1 to 24 (the services keep 800 days)", "15"},
       {"late", "P", "percent of events delivered late and out of order, 0 to 50", "0"},
       {"data-dir", "DIR", "region CSVs", "data"},
       {"population", "FILE", "registered population per kab/kota (code,name,male,female,total)",
        "<data-dir>/population-2025.csv"}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  auto scale = cmd.GetInt("scale", 1, 1000000);
  auto seed = cmd.GetInt("seed", 0, INT64_MAX);
  auto months = cmd.GetInt("months", 1, 24);
  auto late_percent = cmd.GetInt("late", 0, 50);
  if (!scale || !seed || !months || !late_percent) return kExitUsage;
  absl::StatusOr<RegionRegistry> regions = LoadRegions(cmd.Get("data-dir"));
  if (!regions.ok()) return cmd.UsageError(std::string(regions.status().message()));
  std::string population_file = cmd.Get("population");
  if (population_file == "<data-dir>/population-2025.csv") {
    population_file = cmd.Get("data-dir") + "/population-2025.csv";
  }
  absl::StatusOr<std::map<std::string, int64_t>> real = ReadPopulation(population_file);
  if (!real.ok()) return cmd.UsageError(std::string(real.status().message()));
  std::string out = cmd.Get("out");
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return cmd.UsageError(absl::StrCat("cannot create ", out, ": ", ec.message()));

  std::mt19937_64 rng(static_cast<uint64_t>(*seed));
  // Timelines draw from their own stream, so that what each region ends with (drawn from `rng`:
  // README's figures for seed 2026) does not depend on when its events happen.
  std::mt19937_64 timing(static_cast<uint64_t>(*seed) ^ 0x9e3779b97f4a7c15);
  std::uniform_real_distribution<double> u(0, 1);
  const Window window = WindowOf(absl::Now(), static_cast<int>(*months));
  std::ofstream population(out + "/population.csv"), status(out + "/region-status.csv");
  population << "region_code,population\n";
  status << "region_code,uhc_prioritas,dues_paid_through\n";
  std::vector<Event> events;
  int64_t participants_total = 0, people_total = 0;
  const auto& kabs = regions->regencies();
  for (size_t r = 0; r < kabs.size(); ++r) {
    const std::string& code = kabs[r]->code;
    auto found = real->find(code);
    if (found == real->end()) {
      return cmd.UsageError(absl::StrCat(population_file, " has no row for kab/kota ", code));
    }
    const int64_t pop = std::max<int64_t>(10, (found->second + *scale / 2) / *scale);
    Profile p = DrawProfile(rng, found->second);
    population << code << "," << pop << "\n";
    status << code << "," << (p.prioritas ? 1 : 0) << "," << p.dues << "\n";
    people_total += pop;
    int64_t participants = static_cast<int64_t>(std::llround(p.coverage * pop));
    int64_t active = std::min(participants, static_cast<int64_t>(std::llround(p.activity * pop)));
    // The largest count still under 98 % or 80 % of pop: (pop * pct - 1) / 100, rounded down.
    if (p.below == 1) participants = std::min(participants, (pop * 98 - 1) / 100);
    if (p.below == 2) active = std::min(active, (pop * 80 - 1) / 100);
    active = std::min(active, participants);
    int64_t pemda = std::min(active, static_cast<int64_t>(std::llround(p.pemda * pop)));
    participants_total += participants;
    const Timeline timeline = DrawTimeline(timing, window, p, pop, pemda);
    for (int64_t i = 0; i < participants; ++i) {
      std::string nik = RegionNik(code, i);
      std::string id = absl::StrCat("g", code, "-", i);
      int64_t ts = EnrolTime(timeline, i, u(rng));
      // Final state: the first `pemda` are PBPU Pemda (active), then other active ones, then
      // inactive ones (mostly PBPU mandiri and BP, who stop paying).
      bool is_active = i < active;
      int segment;
      if (i < pemda) {
        segment = 2;
      } else if (is_active) {
        double s = u(rng);
        segment = s < 0.35 ? 1 : s < 0.85 ? 3 : s < 0.97 ? 4 : 5;
      } else {
        double s = u(rng);
        segment = s < 0.75 ? 4 : s < 0.9 ? 5 : 3;
      }
      // How they got there: some PBPU Pemda were taken over from mandiri; some moved in from
      // the next kab/kota; some changed status on the way.
      int first_segment = segment == 2 && u(rng) < 0.3 ? 4 : segment;
      std::string enrol_region = code;
      if (u(rng) < 0.02) enrol_region = kabs[(r + 1) % kabs.size()]->code;
      bool first_active = u(rng) < 0.2 ? !is_active : is_active;
      // A draw after each event times the next one; the last is unused but kept, as the
      // sequence of `rng` that README's figures come from has it.
      int k = 0;
      double y = 0;
      auto add = [&](int64_t at, const std::string& region, const std::string& change) {
        ts = at;
        events.push_back({ts, EventJson(absl::StrCat(id, "-", k++), nik, region, ts, change)});
        y = u(rng);
      };
      add(ts, enrol_region,
          absl::StrFormat("\"enrolled\":{\"segment\":\"%s\",\"active\":%s}",
                          kSegmentNames[first_segment], first_active ? "true" : "false"));
      if (enrol_region != code) {
        add(NextTime(ts, timeline.drive_end, y), enrol_region,
            absl::StrFormat("\"relocated\":{\"to_region_code\":\"%s\"}", code));
      }
      if (first_segment != segment) {
        add(NextTime(ts, timeline.drive_end, y), code,
            absl::StrFormat("\"segment_changed\":{\"segment\":\"%s\"}", kSegmentNames[segment]));
      }
      if (first_active != is_active) {
        const int64_t at = timeline.lapsing && !is_active
                               ? NextTime(std::max(ts, timeline.lapse_from), timeline.lapse_to, y)
                               : NextTime(ts, timeline.drive_end, y);
        add(at, code,
            absl::StrFormat("\"status_changed\":{\"active\":%s,\"reason\":\"%s\"}",
                            is_active ? "true" : "false",
                            is_active ? "premium paid" : "premium unpaid"));
      }
    }
    // Residents who left the programme (deaths): enrolled, then terminated.
    int64_t leavers = participants / 100;
    for (int64_t i = 0; i < leavers; ++i) {
      std::string nik = RegionNik(code, participants + i);
      std::string id = absl::StrCat("g", code, "-t", i);
      int64_t ts = window.start +
                   static_cast<int64_t>(u(rng) * static_cast<double>(std::max<int64_t>(
                                                     0, window.end - window.start - 31 * kDay)));
      events.push_back({ts, EventJson(id + "-0", nik, code, ts,
                                      "\"enrolled\":{\"segment\":\"SEGMENT_PBI_APBN\","
                                      "\"active\":true}")});
      ts = std::min(ts + 30 * kDay, window.end - kHour);
      events.push_back(
          {ts, EventJson(id + "-1", nik, code, ts, "\"terminated\":{\"reason\":\"death\"}")});
    }
  }
  // Provinces hold their own status: most have UHC Prioritas and paid dues.
  for (const Region* province : regions->provinces()) {
    bool prioritas = u(rng) < 0.85;
    status << province->code << "," << (prioritas ? 1 : 0) << ","
           << (u(rng) < 0.9 ? "2025-10" : "2025-07") << "\n";
  }
  // One stream in time order, as BPJS systems would emit it; with --late, some events arrive
  // after those of up to 30 more days (a draw of their own, so the figures stay those of the seed).
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.ts < b.ts; });
  std::mt19937_64 lateness(static_cast<uint64_t>(*seed) ^ 0x5851f42d4c957f2d);
  std::vector<std::pair<int64_t, size_t>> arrival;  // (arrival time, index)
  arrival.reserve(events.size());
  int64_t late = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    int64_t at = events[i].ts;
    if (u(lateness) * 100 < static_cast<double>(*late_percent)) {
      at += 1 + static_cast<int64_t>(u(lateness) * 30 * kDay);
      ++late;
    }
    arrival.emplace_back(at, i);
  }
  std::stable_sort(arrival.begin(), arrival.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::ofstream jsonl(out + "/events.jsonl");
  for (const auto& [at, i] : arrival) jsonl << events[i].json << "\n";
  jsonl.close();
  if (!jsonl || !population || !status) return cmd.UsageError("write failed in " + out);
  auto day = [](int64_t ts) {
    return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(ts), absl::FixedTimeZone(7 * 3600));
  };
  std::cout << absl::StrFormat(
      "wrote %s: %d kab/kota, %s residents, %s participants, %s events from %s to %s (WIB; "
      "scale 1:%d, seed %d)%s\n",
      out, kabs.size(), Thousands(people_total), Thousands(participants_total),
      Thousands(static_cast<int64_t>(events.size())), day(events.front().ts), day(events.back().ts),
      *scale, *seed,
      late == 0 ? ""
                : absl::StrFormat(
                      "; %s of them (%.1f %%) delivered late and out of order", Thousands(late),
                      100.0 * static_cast<double>(late) / static_cast<double>(events.size())));
  return kExitOk;
}

}  // namespace uhc::cli
