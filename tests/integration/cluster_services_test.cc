// Both services on a real Redis Cluster (three primaries, one replica each): ingest and tiers
// exact; a live `redis-cli --cluster reshard` of slots holding regions during ingest loses and
// doubles nothing; a primary killed during ingest is replaced by its replica, the services resume
// by themselves and every acknowledged event is in the aggregates.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "classifier-svc/classifier_server.h"
#include "common/config/files.h"
#include "common/domain/identity.h"
#include "common/domain/policy.h"
#include "common/domain/policy_set.h"
#include "common/redis/cluster.h"
#include "common/redis/history.h"
#include "enrollment-svc/enrollment_server.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/delivery.h"
#include "tests/support/events.h"
#include "tests/support/model_check.h"
#include "tests/support/process.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/reference_model.h"
#include "uhc/v1/classifier.grpc.pb.h"
#include "uhc/v1/enrollment.grpc.pb.h"

namespace uhc::testing {
namespace {

constexpr char kSecret[] = "cluster-test-secret-0123456789abcdef";
constexpr int kBucketBits = 4;

// What an ingest with resends did.
struct IngestProgress {
  std::atomic<int> acked_batches{0};
  std::atomic<int> failures{0};
};

class ClusterServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::make_unique<RegionRegistry>(*LoadRegions(UHC_SOURCE_DIR "/data"));
  }
  void TearDown() override {
    classifier_.reset();
    enrollment_server_.reset();
  }

  void StartServices(int wait_replicas, int events_per_call = 2000,
                     ApplyEngine engine = ApplyEngine::kAuto) {
    EnrollmentServerOptions e;
    e.server.listen_address = "127.0.0.1:0";
    e.server.metrics_port = -1;
    e.server.drain_timeout = absl::Seconds(1);
    e.server.plaintext = true;
    e.redis = cluster_.options();
    e.redis.cluster_seeds = seeds_;
    e.data_dir = UHC_SOURCE_DIR "/data";
    e.hmac_secret = kSecret;
    e.bucket_bits = kBucketBits;
    e.history_days = 0;  // keep every day: the events have fixed dates (2025 on)
    e.limits.wait_replicas = wait_replicas;
    e.limits.events_per_redis_call = events_per_call;
    e.limits.apply_engine = engine;
    auto enrollment = EnrollmentServer::Start(e);
    ASSERT_TRUE(enrollment.ok()) << enrollment.status();
    enrollment_server_ = *std::move(enrollment);
    ASSERT_TRUE(WaitFor([this] { return enrollment_server_->redis_healthy(); }, 20000));
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", enrollment_server_->port()),
                                       grpc::InsecureChannelCredentials());
    enrollment_ = v1::EnrollmentService::NewStub(channel);
    admin_ = v1::RegionAdminService::NewStub(channel);

    ClassifierServerOptions c;
    c.server.listen_address = "127.0.0.1:0";
    c.server.metrics_port = -1;
    c.server.drain_timeout = absl::Seconds(1);
    c.server.plaintext = true;
    c.redis = cluster_.options();
    c.redis.cluster_seeds = seeds_;
    c.data_dir = UHC_SOURCE_DIR "/data";
    c.policy_dir = UHC_SOURCE_DIR "/config/policies";
    c.refresh_interval = absl::Milliseconds(100);
    auto classifier = ClassifierServer::Start(c);
    ASSERT_TRUE(classifier.ok()) << classifier.status();
    classifier_ = *std::move(classifier);
    classifier_stub_ = v1::ClassifierService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", classifier_->port()), grpc::InsecureChannelCredentials()));
  }

  // Sends events in batches from the start, each batch resent until acknowledged (as uhcctl
  // does), while `more(batches acked since the last call)` holds; returns how many events were
  // sent, all acknowledged.
  size_t IngestWithResend(const std::vector<v1::ParticipantEvent>& events, size_t batch,
                          const std::function<bool(int)>& more, IngestProgress* progress) {
    const absl::Time give_up = absl::Now() + absl::Seconds(120);
    size_t sent = 0;
    int acked_before = 0;
    const auto newly_acked = [&] {
      const int acked = progress->acked_batches.load();
      const int n = acked - acked_before;
      acked_before = acked;
      return n;
    };
    while (sent < events.size() && more(newly_acked())) {
      size_t end = std::min(events.size(), sent + batch);
      v1::IngestEventsRequest request;
      for (size_t k = sent; k < end; ++k) *request.add_events() = events[k];
      for (;;) {
        v1::IngestEventsResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        grpc::Status status = enrollment_->IngestBatch(&context, request, &response);
        if (status.ok()) break;
        ++progress->failures;
        if (absl::Now() > give_up) {
          ADD_FAILURE() << "batch at " << sent << " never acknowledged: " << status.error_message();
          return sent;
        }
        // A client's retry backoff, as uhcctl ingest does.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      sent = end;
      ++progress->acked_batches;
    }
    return sent;
  }

  // Every aggregate and participant record in the cluster equals the model.
  void ExpectRedisEqualsModel(const ReferenceModel& model,
                              const std::vector<std::string>& regions) {
    ClusterClient redis(cluster_.options());
    ExpectAggregatesEqualModel(redis, model, regions);
    EXPECT_GT(ExpectRecordsEqualModel(redis, model, *NikKeyer::Create(kSecret, kBucketBits)),
              1000u);
  }

  // The classifier catches up with the model by itself and reports the tier the policy engine
  // gives for the model's counts.
  void ExpectTiersMatch(const ReferenceModel& model, const std::vector<std::string>& regions,
                        const std::map<std::string, int64_t>& population) {
    PolicySet policies = *LoadPolicies(UHC_SOURCE_DIR "/config/policies");
    for (const std::string& region : regions) {
      RegionCounts counts =
          model.regions().count(region) ? model.regions().at(region) : RegionCounts();
      counts.population = population.at(region);
      counts.uhc_prioritas = true;
      counts.dues_paid_through = 202610;
      v1::RegionTier want;
      EvaluatePolicy(policies.default_policy(), counts, &want);
      v1::RegionTier got;
      bool caught_up = WaitFor(
          [&] {
            v1::GetRegionTierRequest request;
            request.set_region_code(region);
            grpc::ClientContext context;
            got.Clear();
            return classifier_stub_->GetRegionTier(&context, request, &got).ok() && !got.stale() &&
                   got.metrics().participants() == counts.Participants() &&
                   got.metrics().active() == counts.Active() &&
                   got.metrics().population() == counts.population &&
                   got.tier() == want.tier();  // the status is set after the population
          },
          10000);
      EXPECT_TRUE(caught_up) << region << ": classifier has " << got.metrics().participants()
                             << " participants, model " << counts.Participants();
      EXPECT_EQ(got.tier(), want.tier()) << region;
      EXPECT_EQ(got.metrics().pemda_registered(), counts.PemdaRegistered()) << region;
    }
  }

  // Answers as of a day inside the history, and from a cut-off of that day, equal the model's
  // counts on that day: the day hashes are read across the cluster's shards.
  void ExpectPastMatches(const ReferenceModel& model, const std::vector<std::string>& regions) {
    const int64_t day = WibDayOfMillis(kBaseTime * 1000) + 3;
    const std::string date = FormatDate(CivilDayOf(day));
    v1::CreateCutoffRequest create;
    create.set_cutoff_id("cluster-round");
    create.set_as_of_date(date);
    v1::Cutoff cutoff;
    grpc::ClientContext c0;
    ASSERT_TRUE(admin_->CreateCutoff(&c0, create, &cutoff).ok());
    for (bool from_cutoff : {false, true}) {
      v1::ListRegionTiersRequest request;
      request.set_page_size(1000);
      request.set_level(v1::REGION_LEVEL_REGENCY);
      request.set_view(v1::REGION_TIER_VIEW_FULL);  // BASIC has no participant count
      (from_cutoff ? request.mutable_cutoff_id() : request.mutable_as_of_date())
          ->assign(from_cutoff ? "cluster-round" : date);
      v1::ListRegionTiersResponse response;
      grpc::ClientContext context;
      ASSERT_TRUE(classifier_stub_->ListRegionTiers(&context, request, &response).ok());
      std::map<std::string, int64_t> got;
      for (const v1::RegionTier& t : response.regions()) {
        got[t.region_code()] = t.metrics().participants();
      }
      int64_t total = 0;
      for (const std::string& region : regions) {
        const int64_t want = model.CountsOn(region, day).Participants();
        total += want;
        EXPECT_EQ(got[region], want)
            << region << " as of " << date << (from_cutoff ? " (cut-off)" : "");
      }
      EXPECT_GT(total, 0);
    }
  }

  // Population and status of every region, so that tiers vary around the thresholds.
  std::map<std::string, int64_t> SetRegionFigures(const ReferenceModel& model,
                                                  const std::vector<std::string>& regions) {
    std::map<std::string, int64_t> population;
    for (size_t i = 0; i < regions.size(); ++i) {
      int64_t participants =
          model.regions().count(regions[i]) ? model.regions().at(regions[i]).Participants() : 0;
      population[regions[i]] = std::max<int64_t>(1, participants * 100 / (94 + i % 7));
      v1::SetPopulationRequest p;
      p.set_region_code(regions[i]);
      p.set_population(population[regions[i]]);
      p.set_as_of_date("2026-06-30");
      v1::RegionSettings settings;
      grpc::ClientContext c1;
      EXPECT_TRUE(admin_->SetPopulation(&c1, p, &settings).ok());
      v1::SetRegionStatusRequest s;
      s.set_region_code(regions[i]);
      s.set_uhc_prioritas(true);
      s.set_dues_paid_through("2026-10");
      grpc::ClientContext c2;
      EXPECT_TRUE(admin_->SetRegionStatus(&c2, s, &settings).ok());
    }
    return population;
  }

  // Regencies ordered by the hash slot of their keys.
  std::vector<const Region*> RegenciesBySlot() const {
    std::vector<const Region*> out = registry_->regencies();
    std::sort(out.begin(), out.end(),
              [](const Region* a, const Region* b) { return KeySlot(a->code) < KeySlot(b->code); });
    return out;
  }

  RedisClusterNodes cluster_;
  std::unique_ptr<RegionRegistry> registry_;
  std::unique_ptr<EnrollmentServer> enrollment_server_;
  std::unique_ptr<ClassifierServer> classifier_;
  std::unique_ptr<v1::EnrollmentService::Stub> enrollment_;
  std::unique_ptr<v1::RegionAdminService::Stub> admin_;
  std::unique_ptr<v1::ClassifierService::Stub> classifier_stub_;
  std::vector<std::string> seeds_;  // more cluster seeds for the services (StartServices)
};

class ClusterIngestTest : public ClusterServicesTest, public ::testing::WithParamInterface<int> {};

// With 2,000 events per call a batch is mostly one round; with 7, a region's events spread over
// many rounds and relocations cross them: every outcome must still be the model's.
INSTANTIATE_TEST_SUITE_P(EventsPerCall, ClusterIngestTest, ::testing::Values(2000, 7));

TEST_P(ClusterIngestTest, IngestAndTiersAreExact) {
  ASSERT_NO_FATAL_FAILURE(StartServices(/*wait_replicas=*/1, /*events_per_call=*/GetParam()));
  std::vector<std::string> regions;
  for (const Region* r : registry_->regencies()) {
    if (regions.size() < 24 && r->code.back() % 3 == 0) regions.push_back(r->code);
  }
  std::set<int> primaries;
  for (const std::string& r : regions) primaries.insert(cluster_.PrimaryPortOf(KeySlot(r)));
  ASSERT_EQ(primaries.size(), 3u) << "the regions should span every primary";

  std::vector<v1::ParticipantEvent> events = GenerateHistory(regions, 5000, 40000, 7);
  ReferenceModel model;
  std::vector<v1::EventOutcome> expected;
  for (const auto& e : events) expected.push_back(model.Apply(e));

  // Every outcome is the model's, with relocations crossing primaries.
  size_t mismatches = 0;
  for (size_t start = 0; start < events.size(); start += 2000) {
    v1::IngestEventsRequest request;
    size_t end = std::min(events.size(), start + 2000);
    for (size_t k = start; k < end; ++k) *request.add_events() = events[k];
    v1::IngestEventsResponse response;
    grpc::ClientContext context;
    grpc::Status status = enrollment_->IngestBatch(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.results_size(), static_cast<int>(end - start));
    for (const auto& result : response.results()) {
      if (result.outcome() != expected[start + result.index()]) ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0u);
  ExpectRedisEqualsModel(model, regions);
  ExpectTiersMatch(model, regions, SetRegionFigures(model, regions));
  ExpectPastMatches(model, regions);
}

class ClusterOrderTest : public ClusterServicesTest, public ::testing::WithParamInterface<bool> {};

INSTANTIATE_TEST_SUITE_P(Engines, ClusterOrderTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Module" : "Function"; });

// Issue #26 on a cluster: two years of histories over regions on all three primaries, shuffled,
// a tenth resent, over four concurrent streams, in calls of 7 events (a relocation's two regions
// are on different primaries and in different calls): the records, the live figures, every day's
// figures and every monthly trend point are the model's.
TEST_P(ClusterOrderTest, ShuffledConcurrentDeliveryGivesTheModelsFiguresOnEveryDay) {
  ASSERT_NO_FATAL_FAILURE(
      StartServices(/*wait_replicas=*/0, /*events_per_call=*/7,
                    GetParam() ? ApplyEngine::kModule : ApplyEngine::kFunction));
  std::vector<std::string> regions;
  for (const Region* r : registry_->regencies()) {
    if (regions.size() < 12 && r->code.back() % 4 == 2) regions.push_back(r->code);
  }
  std::set<int> primaries;
  for (const std::string& r : regions) primaries.insert(cluster_.PrimaryPortOf(KeySlot(r)));
  ASSERT_EQ(primaries.size(), 3u) << "the regions should span every primary";
  std::vector<v1::ParticipantEvent> events;
  for (auto& e : GenerateHistory(regions, 1500, 15000, GetParam() ? 261 : 262, 70 * 86400)) {
    if (e.event_time().seconds() < kBaseTime + 698 * 86400) events.push_back(std::move(e));
  }
  ReferenceModel model;
  for (const auto& e : events) model.Apply(e);
  const Delivered got =
      DeliverConcurrently(enrollment_.get(), Deal(events, Delivery::kConcurrent, 26), 26, 200);
  ASSERT_EQ(got.failed, 0);
  EXPECT_EQ(got.other, 0) << got.first_other;

  ExpectRedisEqualsModel(model, regions);
  ClusterClient redis(cluster_.options());
  const auto [first, last] = DaysOf(events);
  EXPECT_EQ(ExpectEveryDayEqualsModel(redis, model, regions, first, last),
            static_cast<int>(regions.size() * (last - first + 1)));
  // Monthly trend points from the classifier, 2025-01 to 2026-11.
  SetRegionFigures(model, regions);
  int points = 0;
  for (const std::string& region : regions) {
    v1::GetRegionTrendRequest request;
    request.set_region_code(region);
    request.set_from_date("2025-01-01");
    request.set_to_date("2026-11-30");
    v1::RegionTrend trend;
    grpc::ClientContext context;
    ASSERT_TRUE(classifier_stub_->GetRegionTrend(&context, request, &trend).ok());
    ASSERT_EQ(trend.points_size(), 23) << region;
    for (const v1::TrendPoint& point : trend.points()) {
      const RegionCounts want = model.CountsOn(region, DayNumberOf(*ParseDate(point.date())));
      EXPECT_EQ(point.metrics().participants(), want.Participants())
          << region << " " << point.date();
      EXPECT_EQ(point.metrics().active(), want.Active()) << region << " " << point.date();
      ++points;
    }
  }
  EXPECT_EQ(points, 12 * 23);
}

TEST_F(ClusterServicesTest, LiveReshardDuringIngestLosesAndDoublesNothing) {
  // Small calls: a region's events take several rounds, so migrations meet calls of one slot
  // in consecutive pipelines.
  ASSERT_NO_FATAL_FAILURE(StartServices(/*wait_replicas=*/0, /*events_per_call=*/10));
  // Twelve regions in the lowest slots (the start of the first primary's range, which the
  // reshard moves) and twelve spread over the others.
  const int source = cluster_.PrimaryPortOf(0);
  std::vector<const Region*> by_slot = RegenciesBySlot();
  std::vector<std::string> regions, moving;
  int slots_to_move = 0;
  for (const Region* r : by_slot) {
    if (moving.size() == 12) break;
    moving.push_back(r->code);
    slots_to_move = KeySlot(r->code) + 1;
  }
  ASSERT_EQ(cluster_.PrimaryPortOf(static_cast<uint16_t>(slots_to_move - 1)), source);
  regions = moving;
  for (size_t i = 100; i < by_slot.size() && regions.size() < 24; i += 35) {
    regions.push_back(by_slot[i]->code);
  }
  const int target = cluster_.PrimaryPortOf(16383);
  ASSERT_NE(target, source);

  std::vector<v1::ParticipantEvent> events = GenerateHistory(regions, 20000, 400000, 11);
  std::atomic<bool> reshard_started{false}, reshard_done{false};
  std::atomic<int> acked_during{0}, acked_after{0};
  IngestProgress progress;
  size_t sent = 0;
  std::thread ingest([&] {
    sent = IngestWithResend(
        events, 500,
        [&](int newly_acked) {
          if (reshard_done) {
            acked_after += newly_acked;
          } else if (reshard_started) {
            acked_during += newly_acked;
          }
          return !reshard_done || acked_after < 5;
        },
        &progress);
  });
  ASSERT_TRUE(WaitFor([&] { return progress.acked_batches >= 3; }, 30000));
  reshard_started = true;
  std::string output;
  int status = RedisClusterNodes::RedisCli(
      absl::StrCat("--cluster reshard 127.0.0.1:", source, " --cluster-from ",
                   cluster_.NodeId(source), " --cluster-to ", cluster_.NodeId(target),
                   " --cluster-slots ", slots_to_move, " --cluster-yes"),
      &output);
  reshard_done = true;
  ingest.join();
  ASSERT_EQ(status, 0) << output.substr(output.size() > 2000 ? output.size() - 2000 : 0);
  ASSERT_LT(sent, events.size()) << "the ingest ran out of events before the reshard ended";
  EXPECT_GT(acked_during, 0) << "no batch was acknowledged while slots moved";
  for (const std::string& r : moving) {
    EXPECT_EQ(cluster_.PrimaryPortOf(KeySlot(r)), target) << r << " was not moved";
  }
  // The redirects were followed by the service, and counted for operators.
  const std::string metrics = enrollment_server_->metrics().Render();
  EXPECT_THAT(metrics, ::testing::ContainsRegex(
                           "uhc_redis_cluster_redirects_total\\{kind=\"moved\"\\} [1-9]"));
  ASSERT_TRUE(cluster_.WaitHealthy(20000));

  ReferenceModel model;
  for (size_t k = 0; k < sent; ++k) model.Apply(events[k]);
  ExpectRedisEqualsModel(model, regions);
  ExpectTiersMatch(model, regions, SetRegionFigures(model, regions));
  ExpectPastMatches(model, regions);
  std::cout << "reshard of " << slots_to_move << " slots: " << acked_during
            << " batches acknowledged during it, " << progress.failures << " resends, " << sent
            << " events\n";
}

TEST_F(ClusterServicesTest, KilledPrimaryIsReplacedAndNothingAckedIsLost) {
  ASSERT_NO_FATAL_FAILURE(StartServices(/*wait_replicas=*/1));
  std::vector<std::string> regions;
  for (const Region* r : registry_->regencies()) {
    if (regions.size() < 24 && r->code.back() % 3 == 1) regions.push_back(r->code);
  }
  std::map<int, int> regions_on;
  for (const std::string& r : regions) ++regions_on[cluster_.PrimaryPortOf(KeySlot(r))];
  const int victim = std::max_element(regions_on.begin(), regions_on.end(), [](auto& a, auto& b) {
                       return a.second < b.second;
                     })->first;
  const uint16_t victim_slot = [&] {
    for (const std::string& r : regions) {
      if (cluster_.PrimaryPortOf(KeySlot(r)) == victim) return KeySlot(r);
    }
    return uint16_t{0};
  }();

  std::vector<v1::ParticipantEvent> events = GenerateHistory(regions, 20000, 400000, 13);
  std::atomic<bool> recovered{false};
  std::atomic<int> acked_after{0};
  IngestProgress progress;
  size_t sent = 0;
  std::thread ingest([&] {
    sent = IngestWithResend(
        events, 500,
        [&](int newly_acked) {
          if (recovered) acked_after += newly_acked;
          return !recovered || acked_after < 10;
        },
        &progress);
  });
  ASSERT_TRUE(WaitFor([&] { return progress.acked_batches >= 5; }, 30000));
  const int failures_at_kill = progress.failures;
  cluster_.NodeOnPort(victim).Stop(/*kill=*/true);
  ASSERT_TRUE(WaitFor(
      [&] {
        int p = cluster_.PrimaryPortOf(victim_slot);
        return p != 0 && p != victim;
      },
      30000))
      << "the replica was not promoted";
  // The killed node comes back (as Kubernetes would restart it) and rejoins as a replica, so
  // writes can again be confirmed by one.
  cluster_.NodeOnPort(victim).Restart();
  ASSERT_TRUE(cluster_.WaitHealthy(30000));
  recovered = true;
  ingest.join();
  ASSERT_LT(sent, events.size()) << "the ingest ran out of events before the failover ended";
  EXPECT_GT(progress.failures, failures_at_kill) << "the failover was not felt";
  EXPECT_GE(acked_after, 10) << "ingest did not resume by itself";

  ReferenceModel model;
  for (size_t k = 0; k < sent; ++k) model.Apply(events[k]);
  ExpectRedisEqualsModel(model, regions);
  ExpectTiersMatch(model, regions, SetRegionFigures(model, regions));
  ExpectPastMatches(model, regions);
  std::cout << "failover: " << progress.failures << " failed attempts resent, " << sent
            << " events acknowledged\n";
}

// One shard unreachable (its primary and its replica stalled) must not cascade: enrollment-svc
// stays ready, says which node it lost (log and uhc_redis_node_up), applies the other shards'
// events and answers UNAVAILABLE (retry) for the lost shard's; classifier-svc stays ready and
// serves; when the shard returns, the refused events are applied on resend. The cluster answers
// for the slots it still covers (cluster-require-full-coverage no, as deploy/k8s/data sets it).
TEST_F(ClusterServicesTest, OneShardDownLeavesBothServicesReadyAndTheOtherShardsIngesting) {
  for (int i = 0; i < cluster_.size(); ++i) {
    ASSERT_TRUE(cluster_.node(i)
                    .Connect()
                    ->Command({"CONFIG", "SET", "cluster-require-full-coverage", "no"})
                    .ok());
  }
  // Every node a seed, as a Kubernetes Service over the nodes is: a client made while the first
  // node is stalled (each executor thread makes its own) finds the cluster through another.
  for (int i = 0; i < cluster_.size(); ++i) {
    seeds_.push_back(absl::StrCat("127.0.0.1:", cluster_.node(i).port()));
  }
  ASSERT_NO_FATAL_FAILURE(StartServices(/*wait_replicas=*/0));
  // Two regions on each primary.
  std::map<int, std::vector<std::string>> on;
  for (const Region* r : registry_->regencies()) {
    auto& list = on[cluster_.PrimaryPortOf(KeySlot(r->code))];
    if (list.size() < 2) list.push_back(r->code);
  }
  ASSERT_EQ(on.size(), 3u);
  std::vector<std::string> all;
  for (const auto& [port, codes] : on) all.insert(all.end(), codes.begin(), codes.end());
  int64_t n = 0;
  auto batch_for = [&](const std::vector<std::string>& codes, int per_region) {
    v1::IngestEventsRequest request;
    for (const std::string& code : codes) {
      for (int i = 0; i < per_region; ++i, ++n) {
        *request.add_events() =
            Enrolled(absl::StrCat("s", n), TestNik(n), code, kBaseTime + n, v1::SEGMENT_PPU, true);
      }
    }
    return request;
  };
  auto ingest = [&](const v1::IngestEventsRequest& request) {
    v1::IngestEventsResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return enrollment_->IngestBatch(&context, request, &response);
  };
  ASSERT_TRUE(ingest(batch_for(all, 5)).ok());
  for (const std::string& code : all) {  // the classifier's snapshot has them
    ASSERT_TRUE(WaitFor(
        [&] {
          v1::GetRegionTierRequest request;
          request.set_region_code(code);
          v1::RegionTier tier;
          grpc::ClientContext context;
          return classifier_stub_->GetRegionTier(&context, request, &tier).ok() &&
                 tier.metrics().participants() == 5;
        },
        10000));
  }

  // The shard of the first primary: its primary and its replica stalled.
  const int lost = on.begin()->first;
  std::string replicas;
  ASSERT_EQ(RedisClusterNodes::RedisCli(
                absl::StrCat("-p ", lost, " cluster replicas ", cluster_.NodeId(lost)), &replicas),
            0);
  const size_t colon = replicas.find("127.0.0.1:");
  ASSERT_NE(colon, std::string::npos) << replicas;
  const int replica = std::stoi(replicas.substr(colon + 10));
  cluster_.NodeOnPort(replica).Pause();
  cluster_.NodeOnPort(lost).Pause();
  const std::string gauge = absl::StrCat("uhc_redis_node_up{node=\"127.0.0.1:", lost, "\"} 0");
  ASSERT_TRUE(WaitFor(
      [&] { return enrollment_server_->metrics().Render().find(gauge) != std::string::npos; },
      20000))
      << "the probe never said which node it lost";
  EXPECT_TRUE(enrollment_server_->redis_healthy()) << "one shard lost made the service unready";

  // The other shards' events are applied; the lost shard's are refused, retryably.
  std::vector<std::string> healthy;
  for (const auto& [port, codes] : on) {
    if (port != lost) healthy.insert(healthy.end(), codes.begin(), codes.end());
  }
  {
    grpc::Status applied = ingest(batch_for(healthy, 3));
    EXPECT_TRUE(applied.ok()) << applied.error_message();
  }
  const v1::IngestEventsRequest for_lost = batch_for(on.at(lost), 3);
  grpc::Status refused = ingest(for_lost);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_TRUE(enrollment_server_->redis_healthy());
  // The classifier still answers, from a stale snapshot if need be, and is ready.
  for (const std::string& code : healthy) {
    v1::GetRegionTierRequest request;
    request.set_region_code(code);
    v1::RegionTier tier;
    grpc::ClientContext context;
    ASSERT_TRUE(classifier_stub_->GetRegionTier(&context, request, &tier).ok()) << code;
    EXPECT_GE(tier.metrics().participants(), 5) << code;
  }
  EXPECT_TRUE(WaitServing(absl::StrCat("127.0.0.1:", classifier_->port()), 1000));
  EXPECT_TRUE(WaitServing(absl::StrCat("127.0.0.1:", enrollment_server_->port()), 1000));

  cluster_.NodeOnPort(lost).Resume();
  cluster_.NodeOnPort(replica).Resume();
  ASSERT_TRUE(WaitFor([&] { return ingest(for_lost).ok(); }, 30000));
  std::unique_ptr<RedisClient> redis = MakeRedisClient(cluster_.options());
  for (const auto& [port, codes] : on) {
    for (const std::string& code : codes) {
      auto reply = redis->Command({"HGETALL", AggregateKey(code)});
      ASSERT_TRUE(reply.ok());
      EXPECT_EQ(ParseAggregate(reply->get()).counts.Participants(), 8) << code;
    }
  }
}

}  // namespace
}  // namespace uhc::testing
