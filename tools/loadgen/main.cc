// uhc-loadgen: drives the services the way callers do and reports throughput and latency.
//   ingest     N IngestEvents streams, each with a window of batches in flight (events/s)
//   unary      C concurrent callers of one unary RPC (GetRegionTier, ListRegionTiers, or the
//              health Check as the empty-RPC baseline): calls/s and p50/p99/p99.9 latency
//   freshness  time from an IngestBatch ack to the change being visible in GetRegionTier
//   verify     every region recounted from its participant records equals its aggregate
//              (standalone Redis or, with --redis_cluster, every primary of a cluster)
// Every mode prints one JSON object on stdout. Callers use blocking stubs on their own threads;
// the streams pipeline `--window` batches, so no caller waits on one round trip at a time.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/config/files.h"
#include "common/domain/regions.h"
#include "common/redis/client.h"
#include "common/redis/schema.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tools/loadgen/mix.h"
#include "tools/loadgen/mix_events.h"
#include "uhc/v1/classifier.grpc.pb.h"
#include "uhc/v1/enrollment.grpc.pb.h"

ABSL_FLAG(std::string, mode, "unary", "ingest, unary, freshness or verify");
ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server address");
ABSL_FLAG(std::string, classifier, "127.0.0.1:50052", "classifier address (freshness)");
ABSL_FLAG(std::string, rpc, "GetRegionTier", "unary: GetRegionTier, ListRegionTiers or Health");
ABSL_FLAG(int, concurrency, 16, "unary: concurrent callers; ingest: streams");
ABSL_FLAG(double, seconds, 10, "unary: duration");
ABSL_FLAG(int64_t, events, 2000000, "ingest: events to send (realistic mix)");
ABSL_FLAG(int, batch, 2000, "ingest: events per batch");
ABSL_FLAG(int, window, 4, "ingest: batches in flight per stream");
ABSL_FLAG(int64_t, participants, 0, "ingest: distinct participants (0: events * 0.6)");
ABSL_FLAG(bool, enroll_only, false, "ingest: only enrolments (memory measurement)");
ABSL_FLAG(std::string, region, "",
          "ingest: every participant in this kab/kota (e.g. 32.01; bucket density measurement)");
ABSL_FLAG(int64_t, nik_offset, 0, "ingest: first participant number");
ABSL_FLAG(int, samples, 50, "freshness: measurements");
ABSL_FLAG(std::string, data_dir, "data", "region CSVs");
ABSL_FLAG(int, connections, 4, "gRPC channels to spread callers over");
ABSL_FLAG(int, redis_port, 6379, "verify: Redis port on 127.0.0.1");
ABSL_FLAG(bool, redis_cluster, false, "verify: --redis_port is a node of a Redis Cluster");

namespace uhc {
namespace {

std::shared_ptr<grpc::Channel> Channel(const std::string& target, int index) {
  grpc::ChannelArguments args;
  args.SetInt("grpc.channel_id", index);  // distinct channels, distinct connections
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

// The realistic mix (tools/loadgen/mix.h) as IngestEvents batches.
std::vector<v1::IngestEventsRequest> MakeBatches(const RegionRegistry& regions) {
  MixOptions options;
  options.events = absl::GetFlag(FLAGS_events);
  options.participants = absl::GetFlag(FLAGS_participants);
  options.enroll_only = absl::GetFlag(FLAGS_enroll_only);
  if (const std::string code = absl::GetFlag(FLAGS_region); !code.empty()) {
    const auto& kabs = regions.regencies();
    for (size_t i = 0; i < kabs.size(); ++i) {
      if (kabs[i]->code == code) options.only_region = static_cast<int>(i);
    }
    if (options.only_region < 0) {
      std::cerr << "uhc-loadgen: --region " << code << " is no kab/kota\n";
      std::exit(2);
    }
  }
  options.nik_offset = absl::GetFlag(FLAGS_nik_offset);
  const int batch = absl::GetFlag(FLAGS_batch);
  const auto& kabs = regions.regencies();
  EventMix mix(regions, options);
  std::vector<v1::IngestEventsRequest> batches;
  MixEvent m;
  while (mix.Next(&m)) {
    if (batches.empty() || batches.back().events_size() == batch) batches.emplace_back();
    ToParticipantEvent(m, kabs, batches.back().add_events());
  }
  return batches;
}

int Ingest() {
  absl::StatusOr<RegionRegistry> regions = LoadRegions(absl::GetFlag(FLAGS_data_dir));
  if (!regions.ok()) {
    std::cerr << regions.status() << "\n";
    return 2;
  }
  std::vector<v1::IngestEventsRequest> batches = MakeBatches(*regions);
  int streams = absl::GetFlag(FLAGS_concurrency);
  int window = absl::GetFlag(FLAGS_window);
  std::atomic<size_t> next{0};
  std::atomic<int64_t> applied{0}, other{0}, failed{0};
  absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int s = 0; s < streams; ++s) {
    threads.emplace_back([&, s] {
      auto stub = v1::EnrollmentService::NewStub(Channel(absl::GetFlag(FLAGS_target), s));
      grpc::ClientContext context;
      auto stream = stub->IngestEvents(&context);
      std::mutex mu;
      std::condition_variable cv;
      int in_flight = 0;
      bool done_writing = false;
      std::thread writer([&] {
        for (;;) {
          {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait(lock, [&] { return in_flight < window; });
          }
          size_t b = next.fetch_add(1);
          if (b >= batches.size()) break;
          {
            std::lock_guard<std::mutex> lock(mu);
            ++in_flight;
          }
          if (!stream->Write(batches[b])) break;
        }
        std::lock_guard<std::mutex> lock(mu);
        done_writing = true;
        stream->WritesDone();
      });
      v1::IngestEventsResponse response;
      bool broken = false;
      for (;;) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (done_writing && in_flight == 0) break;
        }
        if (!stream->Read(&response)) {
          // The server ends the stream after our WritesDone; only a failure with acks still
          // outstanding is a broken stream.
          std::lock_guard<std::mutex> lock(mu);
          broken = in_flight > 0;
          break;
        }
        applied += response.applied();
        other += response.duplicate() + response.stale() + response.rejected();
        {
          std::lock_guard<std::mutex> lock(mu);
          --in_flight;
        }
        cv.notify_all();
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        in_flight = -window;  // a broken stream must not leave the writer waiting for acks
      }
      cv.notify_all();
      if (broken) context.TryCancel();
      writer.join();
      grpc::Status status = stream->Finish();
      if (!status.ok()) {
        ++failed;
        std::cerr << "stream " << s << ": " << status.error_message() << "\n";
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  int64_t events = applied + other;
  std::cout << absl::StrFormat(
      "{\"mode\":\"ingest\",\"events\":%d,\"applied\":%d,\"other\":%d,\"seconds\":%.3f,"
      "\"events_per_second\":%.0f,\"streams\":%d,\"batch\":%d,\"failed_streams\":%d}\n",
      events, applied.load(), other.load(), seconds, events / seconds, streams,
      absl::GetFlag(FLAGS_batch), failed.load());
  return failed > 0 ? 1 : 0;
}

int Unary() {
  std::string rpc = absl::GetFlag(FLAGS_rpc);
  int callers = absl::GetFlag(FLAGS_concurrency);
  int connections = absl::GetFlag(FLAGS_connections);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < connections; ++c) channels.push_back(Channel(absl::GetFlag(FLAGS_target), c));
  absl::Time end = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  std::vector<std::vector<double>> latencies(callers);
  std::atomic<int64_t> errors{0};
  std::vector<std::thread> threads;
  const char* codes[] = {"12.19", "16.07", "36", "ID", "12.75", "31.71", "94.01", "11.01"};
  absl::Time start = absl::Now();
  for (int t = 0; t < callers; ++t) {
    threads.emplace_back([&, t] {
      auto channel = channels[t % connections];
      auto classifier = v1::ClassifierService::NewStub(channel);
      auto health = grpc::health::v1::Health::NewStub(channel);
      int i = t;
      while (absl::Now() < end) {
        grpc::ClientContext context;
        absl::Time begin = absl::Now();
        grpc::Status status;
        if (rpc == "Health") {
          grpc::health::v1::HealthCheckRequest request;
          grpc::health::v1::HealthCheckResponse response;
          status = health->Check(&context, request, &response);
        } else if (rpc == "ListRegionTiers") {
          v1::ListRegionTiersRequest request;
          request.set_page_size(1000);
          request.set_view(v1::REGION_TIER_VIEW_FULL);  // every field, as this has always measured
          v1::ListRegionTiersResponse response;
          status = classifier->ListRegionTiers(&context, request, &response);
        } else {
          v1::GetRegionTierRequest request;
          request.set_region_code(codes[i++ % 8]);
          v1::RegionTier response;
          status = classifier->GetRegionTier(&context, request, &response);
        }
        latencies[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - begin));
        if (!status.ok()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  size_t calls = all.size();
  double p50 = Percentile(all, 0.5), p99 = Percentile(all, 0.99), p999 = Percentile(all, 0.999);
  std::cout << absl::StrFormat(
      "{\"mode\":\"unary\",\"rpc\":\"%s\",\"calls\":%d,\"errors\":%d,\"seconds\":%.3f,"
      "\"calls_per_second\":%.0f,\"concurrency\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"p999_ms\":%.3f}\n",
      rpc, calls, errors.load(), seconds, calls / seconds, callers, p50, p99, p999);
  return errors > 0 ? 1 : 0;
}

int Freshness() {
  auto enrollment = v1::EnrollmentService::NewStub(Channel(absl::GetFlag(FLAGS_target), 0));
  auto classifier = v1::ClassifierService::NewStub(Channel(absl::GetFlag(FLAGS_classifier), 1));
  std::vector<double> ms;
  const std::string region = "12.19";
  for (int s = 0; s < absl::GetFlag(FLAGS_samples); ++s) {
    v1::GetRegionTierRequest get;
    get.set_region_code(region);
    v1::RegionTier before;
    grpc::ClientContext c0;
    if (!classifier->GetRegionTier(&c0, get, &before).ok()) return 1;
    v1::IngestEventsRequest request;
    v1::ParticipantEvent* e = request.add_events();
    e->set_event_id(absl::StrFormat("fresh-%d-%d", absl::ToUnixMicros(absl::Now()), s));
    e->set_nik(SyntheticNik(region, 9000000 + absl::ToUnixMicros(absl::Now()) % 1000000 * 10 + s));
    e->set_region_code(region);
    e->mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    e->mutable_enrolled()->set_segment(v1::SEGMENT_PPU);
    v1::IngestEventsResponse response;
    grpc::ClientContext c1;
    if (!enrollment->IngestBatch(&c1, request, &response).ok()) return 1;
    absl::Time acked = absl::Now();
    for (;;) {
      v1::RegionTier now;
      grpc::ClientContext c2;
      if (!classifier->GetRegionTier(&c2, get, &now).ok()) return 1;
      if (now.metrics().participants() != before.metrics().participants()) break;
      if (absl::Now() - acked > absl::Seconds(10)) return 1;
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - acked));
  }
  // Values first: StrFormat binds references, and Percentile reorders the vector.
  double max = *std::max_element(ms.begin(), ms.end());
  double p50 = Percentile(ms, 0.5);
  double p99 = Percentile(ms, 0.99);
  std::cout << absl::StrFormat(
      "{\"mode\":\"freshness\",\"samples\":%d,\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"max_ms\":%.1f}\n",
      ms.size(), p50, p99, max);
  return 0;
}

// Recounts every region from its participant records and compares with its aggregate hash:
// counts must never drift from state, whatever the interleaving of streams was.
int Verify() {
  RedisOptions options;
  options.port = absl::GetFlag(FLAGS_redis_port);
  options.cluster = absl::GetFlag(FLAGS_redis_cluster);
  options.command_timeout = absl::Seconds(30);
  std::unique_ptr<RedisClient> redis = MakeRedisClient(options);
  // Every participant bucket key, from every primary.
  std::vector<std::string> names;
  absl::Status scanned = redis->ForEachPrimary([&names](RedisConnection& node) {
    std::string cursor = "0";
    do {
      auto page = node.Command({"SCAN", cursor, "MATCH", BucketKeyPattern(), "COUNT", "1000"});
      if (!page.ok()) return page.status();
      if (absl::Status s = ReplyStatus(page->get()); !s.ok()) return s;
      cursor.assign((*page)->element[0]->str, (*page)->element[0]->len);
      const redisReply* keys = (*page)->element[1];
      for (size_t k = 0; k < keys->elements; ++k) {
        names.emplace_back(keys->element[k]->str, keys->element[k]->len);
      }
    } while (cursor != "0");
    return absl::OkStatus();
  });
  if (!scanned.ok()) {
    std::cerr << "verify: " << scanned << "\n";
    return 2;
  }
  std::map<std::string, std::map<std::string, int64_t>> recount;  // region -> field -> n
  int64_t records = 0;
  for (size_t start = 0; start < names.size(); start += 1000) {
    const size_t end = std::min(names.size(), start + 1000);
    RedisCommands commands;
    for (size_t k = start; k < end; ++k) commands.push_back({"HVALS", names[k]});
    auto values = redis->Pipeline(commands);
    if (!values.ok()) return 2;
    for (size_t k = start; k < end; ++k) {
      const std::string& name = names[k];
      auto& counts = recount[RegionOfKey(name)];
      const redisReply* hash = (*values)[k - start].get();
      for (size_t v = 0; v < hash->elements; ++v) {
        const redisReply* r = hash->element[v];
        std::optional<ParticipantRecord> record =
            DecodeStoredParticipant(absl::string_view(r->str, r->len));
        ++records;
        if (!record) {
          ++counts["undecodable"];
          continue;
        }
        if (!record->live()) continue;
        ++counts[agg::ParticipantsOf(record->segment)];
        ++counts[agg::kParticipants];
        if (record->active) {
          ++counts[agg::ActiveOf(record->segment)];
          ++counts[agg::kActive];
        }
      }
    }
  }
  int64_t mismatches = 0, participants = 0;
  for (auto& [region, want] : recount) {
    auto aggregate = redis->Command({"HGETALL", AggregateKey(region)});
    if (!aggregate.ok()) return 2;
    std::map<std::string, int64_t> have = AggregateFields(aggregate->get());
    std::vector<std::string> fields = {agg::kParticipants, agg::kActive};
    for (int s = 1; s <= 5; ++s) {
      fields.push_back(agg::ParticipantsOf(s));
      fields.push_back(agg::ActiveOf(s));
    }
    for (const std::string& f : fields) {
      if (have[f] != want[f]) ++mismatches;
    }
    mismatches += want["undecodable"];
    participants += want[agg::kParticipants];
  }
  std::cout << absl::StrFormat(
      "{\"mode\":\"verify\",\"regions\":%d,\"records\":%d,\"live_participants\":%d,"
      "\"mismatched_fields\":%d}\n",
      recount.size(), records, participants, mismatches);
  return mismatches == 0 ? 0 : 1;
}

}  // namespace
}  // namespace uhc

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "uhc-loadgen: load generator for the UHC tier services (see the comment at the top of\n"
      "tools/loadgen/main.cc and docs/BENCHMARKS.md). Prints one JSON object per run.");
  absl::ParseCommandLine(argc, argv);
  std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "ingest") return uhc::Ingest();
  if (mode == "unary") return uhc::Unary();
  if (mode == "freshness") return uhc::Freshness();
  if (mode == "verify") return uhc::Verify();
  std::cerr << "uhc-loadgen: --mode must be ingest, unary or freshness\n";
  return 2;
}
