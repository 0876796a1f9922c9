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
      "{\"event_id\":\"%s\",\"nik\":\"%s\",\"region_code\":\"%s\",\"occurred_at\":\"%s\",%s}", id,
      nik, region,
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(ts), absl::UTCTimeZone()),
      change);
}

const char* kSegmentNames[] = {
    "",          "SEGMENT_PBI_APBN", "SEGMENT_PBPU_PEMDA", "SEGMENT_PPU", "SEGMENT_PBPU_MANDIRI",
    "SEGMENT_BP"};

}  // namespace

int RunGen(const std::vector<std::string>& args) {
  Command cmd(
      "gen",
      "Writes a synthetic national dataset for all 514 kab/kota: population.csv,\n"
      "region-status.csv and events.jsonl (enrolments, status and segment changes,\n"
      "relocations, terminations). Populations are the registered ones (Dukcapil, end of\n"
      "2024; data/population-2025.csv) divided by --scale; regions are spread over the\n"
      "tiers of uhc-awards-2026 in the published 2026 shares, some just below a\n"
      "threshold. The same --seed gives the same files.",
      "[--out DIR] [--scale N] [--seed N]",
      {{"out", "DIR", "output directory", "run/dataset"},
       {"scale", "N", "1:N of the real size", "1000"},
       {"seed", "N", "random seed", "2026"},
       {"data-dir", "DIR", "region CSVs", "data"},
       {"population", "FILE", "registered population per kab/kota (code,name,male,female,total)",
        "<data-dir>/population-2025.csv"}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  auto scale = cmd.GetInt("scale", 1, 1000000);
  auto seed = cmd.GetInt("seed", 0, INT64_MAX);
  if (!scale || !seed) return kExitUsage;
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
  std::uniform_real_distribution<double> u(0, 1);
  std::ofstream population(out + "/population.csv"), status(out + "/region-status.csv");
  population << "region_code,population\n";
  status << "region_code,uhc_prioritas,dues_paid_through\n";
  std::vector<Event> events;
  const int64_t start = 1735689600;  // 2025-01-01
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
    for (int64_t i = 0; i < participants; ++i) {
      std::string nik = RegionNik(code, i);
      std::string id = absl::StrCat("g", code, "-", i);
      int64_t ts = start + static_cast<int64_t>(u(rng) * 180 * 86400);
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
      int k = 0;
      auto add = [&](const std::string& region, const std::string& change) {
        events.push_back({ts, EventJson(absl::StrCat(id, "-", k++), nik, region, ts, change)});
        ts += 3600 + static_cast<int64_t>(u(rng) * 20 * 86400);
      };
      add(enrol_region,
          absl::StrFormat("\"enrolled\":{\"segment\":\"%s\",\"active\":%s}",
                          kSegmentNames[first_segment], first_active ? "true" : "false"));
      if (enrol_region != code) {
        add(enrol_region, absl::StrFormat("\"relocated\":{\"to_region_code\":\"%s\"}", code));
      }
      if (first_segment != segment) {
        add(code,
            absl::StrFormat("\"segment_changed\":{\"segment\":\"%s\"}", kSegmentNames[segment]));
      }
      if (first_active != is_active) {
        add(code, absl::StrFormat("\"status_changed\":{\"active\":%s,\"reason\":\"%s\"}",
                                  is_active ? "true" : "false",
                                  is_active ? "premium paid" : "premium unpaid"));
      }
    }
    // Residents who left the programme (deaths): enrolled, then terminated.
    int64_t leavers = participants / 100;
    for (int64_t i = 0; i < leavers; ++i) {
      std::string nik = RegionNik(code, participants + i);
      std::string id = absl::StrCat("g", code, "-t", i);
      int64_t ts = start + static_cast<int64_t>(u(rng) * 90 * 86400);
      events.push_back({ts, EventJson(id + "-0", nik, code, ts,
                                      "\"enrolled\":{\"segment\":\"SEGMENT_PBI_APBN\","
                                      "\"active\":true}")});
      ts += 86400 * 30;
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
  // One stream in time order, as BPJS systems would emit it.
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.ts < b.ts; });
  std::ofstream jsonl(out + "/events.jsonl");
  for (const Event& e : events) jsonl << e.json << "\n";
  jsonl.close();
  if (!jsonl || !population || !status) return cmd.UsageError("write failed in " + out);
  std::cout << absl::StrFormat(
      "wrote %s: %d kab/kota, %s residents, %s participants, %s events (scale 1:%d, seed %d)\n",
      out, kabs.size(), Thousands(people_total), Thousands(participants_total),
      Thousands(static_cast<int64_t>(events.size())), *scale, *seed);
  return kExitOk;
}

}  // namespace uhc::cli
