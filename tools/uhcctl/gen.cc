// uhcctl gen: a synthetic but plausible national dataset, seeded and reproducible.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
};

// Draws a profile aiming at a tier of uhc-awards-2026; some land just below a threshold.
Profile DrawProfile(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  auto in = [&](double lo, double hi) { return lo + (hi - lo) * u(rng); };
  double pick = u(rng);
  if (pick < 0.15) return {in(0.992, 1.03), in(0.955, 0.99), in(0.19, 0.30), true, "2025-12"};
  if (pick < 0.42) return {in(0.982, 0.995), in(0.855, 0.94), in(0.105, 0.17), true, "2025-11"};
  if (pick < 0.50) return {in(0.982, 0.995), in(0.805, 0.845), in(0.255, 0.33), true, "2025-10"};
  if (pick < 0.74) return {in(0.981, 0.992), in(0.805, 0.845), in(0.02, 0.09), true, "2025-09"};
  if (pick < 0.82) return {in(0.9785, 0.9799), in(0.82, 0.90), in(0.05, 0.15), true, "2025-09"};
  if (pick < 0.88) return {in(0.985, 0.995), in(0.790, 0.7995), in(0.05, 0.12), true, "2025-09"};
  if (pick < 0.94)
    return {in(0.90, 0.975), in(0.70, 0.82), in(0.02, 0.10), u(rng) < 0.5, "2025-06"};
  return {in(0.985, 0.999), in(0.82, 0.92), in(0.10, 0.20), false, "2025-08"};
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
  Command cmd("gen",
              "Writes a synthetic national dataset for all 514 kab/kota: population.csv,\n"
              "region-status.csv and events.jsonl (enrolments, status and segment changes,\n"
              "relocations, terminations). Populations are drawn around real magnitudes and\n"
              "divided by --scale; regions are spread over every tier of uhc-awards-2026 with\n"
              "some just below a threshold. The same --seed gives the same files.",
              "[--out DIR] [--scale N] [--seed N]",
              {{"out", "DIR", "output directory", "run/dataset"},
               {"scale", "N", "1:N of the real size", "1000"},
               {"seed", "N", "random seed", "2026"},
               {"data-dir", "DIR", "region CSVs", "data"}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  auto scale = cmd.GetInt("scale", 1, 1000000);
  auto seed = cmd.GetInt("seed", 0, INT64_MAX);
  if (!scale || !seed) return kExitUsage;
  absl::StatusOr<RegionRegistry> regions = LoadRegions(cmd.Get("data-dir"));
  if (!regions.ok()) return cmd.UsageError(std::string(regions.status().message()));
  std::string out = cmd.Get("out");
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return cmd.UsageError(absl::StrCat("cannot create ", out, ": ", ec.message()));

  std::mt19937_64 rng(static_cast<uint64_t>(*seed));
  std::uniform_real_distribution<double> u(0, 1);
  std::lognormal_distribution<double> population_of(std::log(420000.0), 0.75);
  std::ofstream population(out + "/population.csv"), status(out + "/region-status.csv");
  population << "region_code,population\n";
  status << "region_code,uhc_prioritas,dues_paid_through\n";
  std::vector<Event> events;
  const int64_t start = 1735689600;  // 2025-01-01
  int64_t participants_total = 0, people_total = 0;
  const auto& kabs = regions->regencies();
  for (size_t r = 0; r < kabs.size(); ++r) {
    const std::string& code = kabs[r]->code;
    int64_t pop = std::clamp<int64_t>(static_cast<int64_t>(population_of(rng)), 15000, 5500000);
    pop = std::max<int64_t>(10, pop / *scale);
    Profile p = DrawProfile(rng);
    population << code << "," << pop << "\n";
    status << code << "," << (p.prioritas ? 1 : 0) << "," << p.dues << "\n";
    people_total += pop;
    int64_t participants = static_cast<int64_t>(std::llround(p.coverage * pop));
    int64_t active = std::min(participants, static_cast<int64_t>(std::llround(p.activity * pop)));
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
