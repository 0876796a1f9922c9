// uhc-bench-apply-ab: paired comparison of apply libraries, one batch at a time. The realistic mix
// (tools/loadgen/mix.h), prepared and applied as enrollment-svc applies it (EventValidator,
// ApplyEvents), goes batch by batch to each of several Redis servers in turn, each with its own
// uhc_v3 library: the built one, or a variant loaded over it. Taking turns every batch, the
// servers see the same drift of this machine's speed, which comparing whole runs does not
// (tests/bench/ab.sh starts the servers; docs/BENCHMARKS.md). Prints one JSON line per server:
// Redis CPU per event (INFO cpu) and FCALL time per event (INFO commandstats).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/config/files.h"
#include "common/domain/event_rules.h"
#include "common/domain/identity.h"
#include "common/redis/client.h"
#include "enrollment-svc/event_applier.h"
#include "tools/loadgen/mix.h"
#include "tools/loadgen/mix_events.h"

ABSL_FLAG(std::vector<std::string>, redis_ports, {}, "Redis ports on 127.0.0.1, one per library");
ABSL_FLAG(std::vector<std::string>, libraries, {},
          "per port: `built`, `module` (uhc.apply_v3 of uhc_module.so, which that Redis must "
          "have loaded) or a .lua file loaded over the built uhc_v3");
ABSL_FLAG(int64_t, events, 1000000, "events of the realistic mix");
ABSL_FLAG(int, batch, 8000, "events per batch (one ApplyEvents, as a group of enrollment-svc)");
ABSL_FLAG(std::vector<std::string>, split, {},
          "per port (optional): apply each batch in parts of this many events");
ABSL_FLAG(int, events_per_call, 8000, "as enrollment-svc's flag");
ABSL_FLAG(int, bucket_bits, 5, "as enrollment-svc's flag (the benches use 5)");
ABSL_FLAG(std::string, data_dir, "data", "region CSVs");

namespace uhc {
namespace {

struct Server {
  std::string library;
  size_t part = 0;  // events per ApplyEvents
  std::unique_ptr<ReconnectingConnection> redis;
  double cpu = 0, fcall_us = 0;  // totals over the measured applies
  ApplyEngine engine = ApplyEngine::kFunction;
};

// "used_cpu_sys" + "used_cpu_user" seconds, and cmdstat_fcall's usec.
absl::Status Sample(RedisClient& redis, double* cpu, double* fcall_us) {
  *cpu = *fcall_us = 0;
  for (const char* section : {"cpu", "commandstats"}) {
    absl::StatusOr<ReplyPtr> r = redis.Command({"INFO", section});
    if (!r.ok()) return r.status();
    for (absl::string_view line : absl::StrSplit(absl::string_view((*r)->str, (*r)->len), "\r\n")) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ':');
      double v = 0;
      if ((kv.first == "used_cpu_sys" || kv.first == "used_cpu_user") &&
          absl::SimpleAtod(kv.second, &v))
        *cpu += v;
      if (kv.first == "cmdstat_fcall") {
        for (absl::string_view field : absl::StrSplit(kv.second, ',')) {
          if (absl::ConsumePrefix(&field, "usec=") && absl::SimpleAtod(field, &v)) *fcall_us = v;
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Load(RedisClient& redis, const std::string& library) {
  std::vector<std::string> texts = {kUhcApplyV3Lua};
  if (library != "built" && library != "module") {
    std::ifstream in(library);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return absl::NotFoundError("cannot read " + library);
    texts.push_back(text.str());
  }
  for (const std::string& text : texts) {
    absl::StatusOr<ReplyPtr> r = redis.Command({"FUNCTION", "LOAD", "REPLACE", text});
    if (!r.ok()) return r.status();
    if (absl::Status s = ReplyStatus(r->get()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

int Run() {
  const std::vector<std::string> ports = absl::GetFlag(FLAGS_redis_ports);
  const std::vector<std::string> libraries = absl::GetFlag(FLAGS_libraries);
  if (ports.empty() || ports.size() != libraries.size()) {
    std::fprintf(stderr, "uhc-bench-apply-ab: give as many --libraries as --redis_ports\n");
    return 2;
  }
  absl::StatusOr<RegionRegistry> regions = LoadRegions(absl::GetFlag(FLAGS_data_dir));
  absl::StatusOr<NikKeyer> keyer =
      NikKeyer::Create("bench-secret-0123456789abcdef", absl::GetFlag(FLAGS_bucket_bits));
  if (!regions.ok() || !keyer.ok()) {
    std::fprintf(stderr, "uhc-bench-apply-ab: %s\n",
                 (!regions.ok() ? regions.status() : keyer.status()).ToString().c_str());
    return 2;
  }
  std::vector<Server> servers(ports.size());
  for (size_t s = 0; s < ports.size(); ++s) {
    RedisOptions options;
    if (!absl::SimpleAtoi(ports[s], &options.port)) {
      std::fprintf(stderr, "uhc-bench-apply-ab: bad port %s\n", ports[s].c_str());
      return 2;
    }
    options.command_timeout = absl::Seconds(60);
    servers[s].library = libraries[s];
    if (libraries[s] == "module") servers[s].engine = ApplyEngine::kModule;
    servers[s].part = static_cast<size_t>(absl::GetFlag(FLAGS_batch));
    if (s < absl::GetFlag(FLAGS_split).size() &&
        (!absl::SimpleAtoi(absl::GetFlag(FLAGS_split)[s], &servers[s].part) ||
         servers[s].part == 0)) {
      std::fprintf(stderr, "uhc-bench-apply-ab: --split %s is not a positive number\n",
                   absl::GetFlag(FLAGS_split)[s].c_str());
      return 2;
    }
    servers[s].redis = std::make_unique<ReconnectingConnection>(options);
    if (absl::Status st = Load(*servers[s].redis, libraries[s]); !st.ok()) {
      std::fprintf(stderr, "uhc-bench-apply-ab: port %s: %s\n", ports[s].c_str(),
                   st.ToString().c_str());
      return 2;
    }
  }

  MixOptions options;
  options.events = absl::GetFlag(FLAGS_events);
  EventMix mix(*regions, options);
  EventValidator validator(&*regions, &*keyer);
  const int batch = absl::GetFlag(FLAGS_batch);
  int64_t events = 0;
  for (int64_t round = 0;; ++round) {
    std::vector<PreparedEvent> prepared;
    MixEvent m;
    const absl::Time now = absl::Now();
    while (static_cast<int>(prepared.size()) < batch && mix.Next(&m)) {
      v1::ParticipantEvent e;
      ToParticipantEvent(m, regions->regencies(), &e);
      prepared.push_back(validator.Prepare(e, static_cast<int>(prepared.size()), true, now));
    }
    if (prepared.empty()) break;
    events += static_cast<int64_t>(prepared.size());
    for (size_t k = 0; k < servers.size(); ++k) {  // a different server first each round
      Server& server = servers[(static_cast<size_t>(round) + k) % servers.size()];
      double cpu0, us0, cpu1, us1;
      v1::IngestEventsResponse response;
      absl::Status st = Sample(*server.redis, &cpu0, &us0);
      EngineChoice engine(server.engine);
      for (size_t from = 0; st.ok() && from < prepared.size(); from += server.part) {
        const std::vector<PreparedEvent> part(
            prepared.begin() + static_cast<std::ptrdiff_t>(from),
            prepared.begin() +
                static_cast<std::ptrdiff_t>(std::min(prepared.size(), from + server.part)));
        st = ApplyEvents(*server.redis, part, absl::GetFlag(FLAGS_events_per_call), 0, &engine,
                         &response);
      }
      if (st.ok()) st = Sample(*server.redis, &cpu1, &us1);
      if (!st.ok()) {
        std::fprintf(stderr, "uhc-bench-apply-ab: %s: %s\n", server.library.c_str(),
                     st.ToString().c_str());
        return 1;
      }
      server.cpu += cpu1 - cpu0;
      server.fcall_us += us1 - us0;
    }
  }
  for (const Server& s : servers) {
    std::printf(
        "{\"library\":\"%s\",\"events_per_apply\":%zu,\"events\":%lld,"
        "\"redis_cpu_us_per_event\":%.3f,\"fcall_us_per_event\":%.3f,\"ratio_to_first\":%.3f}\n",
        s.library.c_str(), s.part, static_cast<long long>(events), s.cpu * 1e6 / events,
        s.fcall_us / events, s.cpu / servers[0].cpu);
  }
  return 0;
}

}  // namespace
}  // namespace uhc

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "uhc-bench-apply-ab --redis_ports P1,P2 --libraries built,variant.lua [--events N]: the same "
      "batches of the realistic mix applied to each server in turn; prints Redis CPU per event "
      "for each (tests/bench/ab.sh runs it)");
  absl::ParseCommandLine(argc, argv);
  return uhc::Run();
}
