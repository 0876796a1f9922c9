// enrollment-svc against a real redis-server, on what an outside probe broke (issue #25): a batch
// that fails in Redis must change nothing and must not fail other clients' batches grouped with
// it; a backfill of thousands of days applies on the Lua function; Enroll decides cover in the
// atomic apply and refuses a request_id reused with other content; admin inputs refuse future
// dates; messages say what is wrong.
#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/config/files.h"
#include "common/domain/event_rules.h"
#include "common/domain/identity.h"
#include "common/redis/schema.h"
#include "enrollment-svc/event_applier.h"
#include "gmock/gmock.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"

namespace uhc::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLangkat[] = "12.03";
constexpr char kBekasi[] = "32.16";
constexpr char kBinjai[] = "12.75";
constexpr int64_t k2014 = 1388620800;  // 2014-01-02 00:00 UTC

class ApplyFaultsTest : public EnrollmentFixture {
 protected:
  // The service on a Redis without uhc_module.so: events go to the Lua function.
  void StartOnTheFunction(int concurrent_groups = EnrollmentLimits().concurrent_groups) {
    StopService();
    redis_ = std::make_unique<RedisServer>();
    EnrollmentServerOptions options = Options();
    options.limits.apply_engine = ApplyEngine::kFunction;
    options.limits.concurrent_groups = concurrent_groups;
    ASSERT_NO_FATAL_FAILURE(StartService(options));
  }

  grpc::Status Enroll(const std::string& id, const std::string& nik, const std::string& region,
                      v1::Segment segment, v1::EnrollResponse* out, int64_t seconds = 0) {
    v1::EnrollRequest request;
    request.set_request_id(id);
    request.set_nik(nik);
    request.set_region_code(region);
    request.set_segment(segment);
    if (seconds != 0) request.mutable_event_time()->set_seconds(seconds);
    grpc::ClientContext context;
    return enrollment_->Enroll(&context, request, out);
  }

  void SetPrioritas(const std::string& region, bool prioritas) {
    v1::SetRegionStatusRequest status;
    status.set_region_code(region);
    status.set_uhc_prioritas(prioritas);
    v1::RegionSettings settings;
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->SetRegionStatus(&context, status, &settings).ok());
  }

  int64_t CommandCalls(const std::string& command) {
    auto c = redis_->Connect();
    auto info = c->Command({"INFO", "commandstats"});
    if (!info.ok()) return -1;
    const std::string text((*info)->str, (*info)->len);
    const std::string key = "cmdstat_" + command + ":calls=";
    const size_t at = text.find(key);
    return at == std::string::npos ? 0 : std::stoll(text.substr(at + key.size()));
  }
};

// A region's ten years in one batch (4,100 enrolments a day apart) on the Lua function: every
// event applied and counted (the function once failed after writing the records, uncounted, and
// every resend answered DUPLICATE).
TEST_F(ApplyFaultsTest, ABackfillOfThousandsOfDaysInOneBatchAppliesOnTheFunction) {
  ASSERT_NO_FATAL_FAILURE(StartOnTheFunction());
  std::vector<v1::ParticipantEvent> events;
  for (int i = 0; i < 4100; ++i) {
    events.push_back(Enrolled(absl::StrCat("b", i), TestNik(i), kLangkat, k2014 + i * 86400LL,
                              v1::SEGMENT_PBI_APBN, i % 2 == 0));
  }
  v1::IngestEventsResponse response = Ingest(events);
  EXPECT_EQ(response.applied(), 4100);
  EXPECT_EQ(Aggregate(kLangkat)["part"], 4100);
  EXPECT_EQ(Aggregate(kLangkat)["act"], 2050);
  EXPECT_EQ(Ingest(events).duplicate(), 4100);
}

// A batch that fails in Redis (here: an aggregate key an operator overwrote with a string) fails
// alone: other clients' batches grouped with it are applied again on their own, exactly once,
// and the failing one changes nothing.
TEST_F(ApplyFaultsTest, ABatchThatFailsInRedisFailsAloneAndChangesNothing) {
  for (bool function : {false, true}) {
    // One group at a time, so that batches wait and are grouped (with four side by side, the
    // four callers here never wait).
    if (function) {
      ASSERT_NO_FATAL_FAILURE(StartOnTheFunction(/*concurrent_groups=*/1));
    } else {
      StopService();
      EnrollmentServerOptions options = Options();
      options.limits.concurrent_groups = 1;
      ASSERT_NO_FATAL_FAILURE(StartService(options));
    }
    const std::string engine = function ? "function" : "module";
    auto redis = redis_->Connect();
    ASSERT_TRUE(redis->Command({"SET", AggregateKey(kLangkat), "not a hash"}).ok());
    std::atomic<bool> stop{false};
    std::atomic<int> failed_bad{0}, sent_bad{0};
    std::thread bad([&] {
      for (int n = 0; !stop.load(); ++n) {
        v1::IngestEventsRequest request;
        for (int i = 0; i < 20; ++i) {
          *request.add_events() = Enrolled(absl::StrCat("x", n, "-", i), TestNik(900000 + i),
                                           kLangkat, 1760000000 + n, v1::SEGMENT_PPU, true);
        }
        v1::IngestEventsResponse response;
        grpc::ClientContext context;
        ++sent_bad;
        if (!enrollment_->IngestBatch(&context, request, &response).ok()) ++failed_bad;
      }
    });
    // Good batches of three callers, until some were grouped with a failing one (at least 150,
    // at most 5,000 batches).
    constexpr int kPerBatch = 20, kMinBatches = 150, kMaxBatches = 5000;
    const auto regroups = [&] {
      const std::string metrics = server_->metrics().Render();
      const std::string name = "\nuhc_batch_regroups_total ";
      const size_t at = metrics.find(name);
      return at == std::string::npos ? -1 : std::stoll(metrics.substr(at + name.size()));
    };
    const int64_t regroups_before = regroups();
    std::atomic<int> next{0}, sent_good{0}, good_failures{0};
    std::vector<std::thread> good;
    for (int t = 0; t < 3; ++t) {
      good.emplace_back([&] {
        for (;;) {
          const int b = next++;
          if (b >= kMaxBatches || (b >= kMinBatches && regroups() > regroups_before)) return;
          ++sent_good;
          v1::IngestEventsRequest request;
          for (int i = 0; i < kPerBatch; ++i) {
            const int p = b * kPerBatch + i;
            *request.add_events() = Enrolled(absl::StrCat(engine, "g", p), TestNik(p), kBekasi,
                                             1760000000 + p, v1::SEGMENT_PBPU_MANDIRI, p % 2 == 0);
          }
          v1::IngestEventsResponse response;
          grpc::ClientContext context;
          grpc::Status status = enrollment_->IngestBatch(&context, request, &response);
          if (!status.ok() || response.applied() + response.duplicate() != kPerBatch) {
            ++good_failures;
          }
        }
      });
    }
    for (std::thread& t : good) t.join();
    stop = true;
    bad.join();
    EXPECT_EQ(good_failures.load(), 0) << engine;
    // Failing batches were grouped with good ones, which were then applied alone.
    EXPECT_GT(regroups(), regroups_before) << engine;
    const int batches = sent_good.load();
    EXPECT_EQ(failed_bad.load(), sent_bad.load()) << engine;
    EXPECT_EQ(Aggregate(kBekasi)["part"], batches * kPerBatch) << engine;
    EXPECT_EQ(Aggregate(kBekasi)["act"], batches * kPerBatch / 2) << engine;
    // Nothing of the failing batches was written: no participant of Langkat in any bucket.
    auto scan = redis->Command({"KEYS", "uhc:{12.03}:p:*"});
    ASSERT_TRUE(scan.ok());
    EXPECT_EQ((*scan)->elements, 0u) << engine;
    ASSERT_TRUE(redis->Command({"DEL", AggregateKey(kLangkat)}).ok());
  }
}

// Cover is decided inside the atomic apply: Enroll sends no read of the region's status of its
// own (so no status change can fall between a read and the write), and the status the call found
// is what the participant got and what the answer says.
TEST_F(ApplyFaultsTest, EnrollDecidesCoverInTheSameAtomicStepAsItEnrols) {
  ASSERT_NO_FATAL_FAILURE(SetPrioritas(kBinjai, true));
  const int64_t hgets = CommandCalls("hget");
  v1::EnrollResponse first, second, retry;
  ASSERT_TRUE(Enroll("p1", TestNik(1), kBinjai, v1::SEGMENT_PBPU_PEMDA, &first, 1768971600).ok());
  EXPECT_EQ(CommandCalls("hget"), hgets) << "Enroll read the status outside the apply";
  EXPECT_TRUE(first.participant().active());
  EXPECT_EQ(first.cover_starts(), "2026-01-21");
  ASSERT_NO_FATAL_FAILURE(SetPrioritas(kBinjai, false));
  ASSERT_TRUE(Enroll("p2", TestNik(2), kBinjai, v1::SEGMENT_PBPU_PEMDA, &second, 1768971600).ok());
  EXPECT_FALSE(second.participant().active());
  EXPECT_EQ(second.cover_starts(), "2026-02-01");
  // A retry answers with the status given at the first call, not the region's status now.
  ASSERT_TRUE(Enroll("p1", TestNik(1), kBinjai, v1::SEGMENT_PBPU_PEMDA, &retry, 1768971600).ok());
  EXPECT_EQ(retry.outcome(), v1::EVENT_OUTCOME_DUPLICATE);
  EXPECT_TRUE(retry.participant().active());
  EXPECT_EQ(retry.cover_starts(), "2026-01-21");
  EXPECT_EQ(Aggregate(kBinjai)["n2"], 2);
  EXPECT_EQ(Aggregate(kBinjai)["a2"], 1);
}

// The same on the Lua function.
TEST_F(ApplyFaultsTest, EnrollDecidesCoverInTheApplyOnTheFunctionToo) {
  ASSERT_NO_FATAL_FAILURE(StartOnTheFunction());
  ASSERT_NO_FATAL_FAILURE(SetPrioritas(kBinjai, true));
  v1::EnrollResponse first, second;
  ASSERT_TRUE(Enroll("p1", TestNik(1), kBinjai, v1::SEGMENT_PBPU_PEMDA, &first, 1768971600).ok());
  EXPECT_TRUE(first.participant().active());
  ASSERT_NO_FATAL_FAILURE(SetPrioritas(kBinjai, false));
  ASSERT_TRUE(Enroll("p2", TestNik(2), kBinjai, v1::SEGMENT_PBPU_PEMDA, &second, 1768971600).ok());
  EXPECT_FALSE(second.participant().active());
  EXPECT_EQ(Aggregate(kBinjai)["a2"], 1);
}

// A request_id names one enrolment: reused with another NIK, region, segment or event_time it
// is refused (ALREADY_EXISTS naming request_id) and changes nothing; repeated exactly it is a
// DUPLICATE, also when the server chose event_time. The key holds no NIK and expires after
// --enroll_idempotency_hours.
TEST_F(ApplyFaultsTest, ARequestIdReusedWithOtherContentIsRefused) {
  v1::EnrollResponse out;
  ASSERT_TRUE(Enroll("r1", TestNik(1), kBinjai, v1::SEGMENT_PPU, &out, 1768971600).ok());
  EXPECT_EQ(out.outcome(), v1::EVENT_OUTCOME_APPLIED);
  struct Reuse {
    const char* what;
    std::string nik, region;
    v1::Segment segment;
    int64_t seconds;
  };
  for (const Reuse& r : {Reuse{"another NIK", TestNik(2), kBinjai, v1::SEGMENT_PPU, 1768971600},
                         Reuse{"another region", TestNik(1), kBekasi, v1::SEGMENT_PPU, 1768971600},
                         Reuse{"another segment", TestNik(1), kBinjai, v1::SEGMENT_BP, 1768971600},
                         Reuse{"another time", TestNik(1), kBinjai, v1::SEGMENT_PPU, 1768971601}}) {
    v1::EnrollResponse refused;
    grpc::Status status = Enroll("r1", r.nik, r.region, r.segment, &refused, r.seconds);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << r.what;
    EXPECT_THAT(status.error_message(), HasSubstr("request_id")) << r.what;
  }
  EXPECT_EQ(Aggregate(kBinjai)["part"], 1);
  EXPECT_EQ(Aggregate(kBekasi)["part"], 0);
  ASSERT_TRUE(Enroll("r1", TestNik(1), kBinjai, v1::SEGMENT_PPU, &out, 1768971600).ok());
  EXPECT_EQ(out.outcome(), v1::EVENT_OUTCOME_DUPLICATE);

  // event_time left to the server: the retry gets the first call's, so it is a DUPLICATE.
  v1::EnrollResponse a, b;
  ASSERT_TRUE(Enroll("r2", TestNik(3), kBinjai, v1::SEGMENT_PPU, &a).ok());
  ASSERT_TRUE(Enroll("r2", TestNik(3), kBinjai, v1::SEGMENT_PPU, &b).ok());
  EXPECT_EQ(a.outcome(), v1::EVENT_OUTCOME_APPLIED);
  EXPECT_EQ(b.outcome(), v1::EVENT_OUTCOME_DUPLICATE);
  EXPECT_EQ(b.participant().last_event_time().seconds(),
            a.participant().last_event_time().seconds());

  auto redis = redis_->Connect();
  auto value = redis->Command({"GET", EnrollRequestKey("r2")});
  ASSERT_TRUE(value.ok());
  ASSERT_EQ((*value)->type, REDIS_REPLY_STRING);
  EXPECT_THAT(std::string((*value)->str, (*value)->len), Not(HasSubstr(TestNik(3))));
  auto ttl = redis->Command({"PTTL", EnrollRequestKey("r2")});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT((*ttl)->integer, (168LL * 3600 - 60) * 1000);
  EXPECT_LE((*ttl)->integer, 168LL * 3600 * 1000);
}

// --enroll_idempotency_hours at its limit of 1 hour: the key lives one hour.
TEST_F(ApplyFaultsTest, TheIdempotencyWindowIsTheFlags) {
  StopService();
  EnrollmentServerOptions options = Options();
  options.limits.enroll_idempotency = absl::Hours(1);
  ASSERT_NO_FATAL_FAILURE(StartService(options));
  v1::EnrollResponse out;
  ASSERT_TRUE(Enroll("r1", TestNik(1), kBinjai, v1::SEGMENT_PPU, &out).ok());
  auto redis = redis_->Connect();
  auto ttl = redis->Command({"PTTL", EnrollRequestKey("r1")});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT((*ttl)->integer, 3540 * 1000);
  EXPECT_LE((*ttl)->integer, 3600 * 1000);
}

// A population as of a later day would become the live figure for good (a figure set later as of
// an earlier day could not replace it): refused, as future statuses and cut-offs are.
TEST_F(ApplyFaultsTest, APopulationAsOfAFutureDayIsRefused) {
  const absl::TimeZone wib = absl::FixedTimeZone(7 * 3600);
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), wib);
  const auto set = [&](const std::string& as_of, int64_t population) {
    v1::SetPopulationRequest request;
    request.set_region_code("11.05");
    request.set_population(population);
    request.set_as_of_date(as_of);
    v1::RegionSettings settings;
    grpc::ClientContext context;
    return admin_->SetPopulation(&context, request, &settings);
  };
  EXPECT_TRUE(set("2026-01-01", 100).ok());
  grpc::Status future = set("2099-01-01", 200);
  EXPECT_EQ(future.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(future.error_message(), HasSubstr("as_of"));
  grpc::Status tomorrow = set(absl::FormatCivilTime(today + 1), 200);
  EXPECT_EQ(tomorrow.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(set(absl::FormatCivilTime(today), 300).ok());
  EXPECT_EQ(Aggregate("11.05")["pop"], 300);
}

// A terminated participant is not active, whatever status it had when it left.
TEST_F(ApplyFaultsTest, ATerminatedParticipantIsNotActive) {
  ASSERT_EQ(IngestOne(Enrolled("e1", TestNik(1), kBinjai, 1760000000, v1::SEGMENT_PPU, true)),
            v1::EVENT_OUTCOME_APPLIED);
  ASSERT_EQ(IngestOne(Terminated("e2", TestNik(1), kBinjai, 1760000001)),
            v1::EVENT_OUTCOME_APPLIED);
  v1::Participant p;
  ASSERT_TRUE(GetParticipant(TestNik(1), &p).ok());
  EXPECT_EQ(p.state(), v1::PARTICIPANT_STATE_TERMINATED);
  EXPECT_FALSE(p.active());
}

// --apply_engine module on a Redis without the module: calls say so (FAILED_PRECONDITION naming
// the module and the fix), not "redis unreachable".
TEST_F(ApplyFaultsTest, ARedisWithoutTheRequiredModuleIsNamedAsSuch) {
  StopService();
  redis_ = std::make_unique<RedisServer>();  // no module
  EnrollmentServerOptions options = Options();
  options.limits.apply_engine = ApplyEngine::kModule;
  auto server = EnrollmentServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::EnrollmentService::NewStub(channel);
  grpc::Status status;
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::IngestEventsRequest request;
        *request.add_events() =
            Enrolled("m1", TestNik(1), kBinjai, 1760000000, v1::SEGMENT_PPU, true);
        v1::IngestEventsResponse response;
        grpc::ClientContext context;
        status = stub->IngestBatch(&context, request, &response);
        return status.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
      },
      5000))
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("uhc.apply_v4"));
  EXPECT_THAT(status.error_message(), HasSubstr("--apply_engine"));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("unreachable")));
}

// A client of a standalone Redis that plans calls as for a cluster: one region per call, a
// relocation's ENTER in a later round than its LEAVE (enrollment-svc/event_applier.h).
class PlannedAsCluster final : public RedisClient {
 public:
  explicit PlannedAsCluster(std::unique_ptr<RedisClient> inner)
      : RedisClient({}), inner_(std::move(inner)) {}
  absl::Status ForEachPrimary(const std::function<absl::Status(RedisConnection&)>& fn) override {
    return inner_->ForEachPrimary(fn);
  }
  bool cluster() const override { return true; }

 protected:
  absl::StatusOr<std::vector<ReplyPtr>> PipelineOnce(const RedisCommands& commands,
                                                     int wait_replicas) override {
    return inner_->Pipeline(commands, wait_replicas);
  }

 private:
  std::unique_ptr<RedisClient> inner_;
};

// In a cluster a relocation's halves are two calls in two rounds. A batch with a call Redis refuses
// (another region's aggregate overwritten with a string) fails, but the relocation's ENTER still
// runs after its LEAVE was applied: the participant is not left in neither region (which every
// retry of the failing batch would have kept so).
TEST_F(ApplyFaultsTest, ARefusedCallDoesNotLeaveARelocationHalfDone) {
  ASSERT_EQ(IngestOne(Enrolled("e1", TestNik(1), kBinjai, 1760000000, v1::SEGMENT_PPU, true)),
            v1::EVENT_OUTCOME_APPLIED);
  auto redis = redis_->Connect();
  ASSERT_TRUE(redis->Command({"SET", AggregateKey(kLangkat), "not a hash"}).ok());
  RegionRegistry regions = *LoadRegions(UHC_SOURCE_DIR "/data");
  NikKeyer keyer = *NikKeyer::Create(kTestSecret, 4);
  EventValidator validator(&regions, &keyer);
  std::vector<PreparedEvent> batch;
  for (const v1::ParticipantEvent& e :
       {Relocated("m1", TestNik(1), kBinjai, 1760000100, kBekasi),
        Enrolled("x1", TestNik(2), kLangkat, 1760000100, v1::SEGMENT_PPU, true)}) {
    batch.push_back(validator.Prepare(e, static_cast<int>(batch.size()), true, absl::Now()));
    ASSERT_FALSE(batch.back().rejected) << batch.back().reason;
  }
  PlannedAsCluster planned(MakeRedisClient(redis_->options()));
  EngineChoice engine(ApplyEngine::kAuto);
  v1::IngestEventsResponse response;
  absl::Status status = ApplyEvents(planned, batch, 8000, 0, &engine, &response);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(response.results_size(), 0);
  EXPECT_EQ(Aggregate(kBinjai)["part"], 0);
  EXPECT_EQ(Aggregate(kBekasi)["part"], 1) << "the ENTER did not run";
  EXPECT_EQ(Aggregate(kBekasi)["a3"], 1);
  // The operator repairs the key; the retry applies the rest, the relocation answers DUPLICATE.
  ASSERT_TRUE(redis->Command({"DEL", AggregateKey(kLangkat)}).ok());
  ASSERT_TRUE(ApplyEvents(planned, batch, 8000, 0, &engine, &response).ok());
  EXPECT_EQ(response.results(0).outcome(), v1::EVENT_OUTCOME_DUPLICATE);
  EXPECT_EQ(response.results(1).outcome(), v1::EVENT_OUTCOME_APPLIED);
  EXPECT_EQ(Aggregate(kBekasi)["part"], 1);
  EXPECT_EQ(Aggregate(kLangkat)["part"], 1);
}

// The module answers its version, and enrollment-svc serves with it (a module of another version
// is refused at start: CheckApplyModule in enrollment_server.cc).
TEST_F(ApplyFaultsTest, TheModuleSaysItsVersion) {
  auto redis = redis_->Connect();
  auto version = redis->Command({apply_abi::kModuleVersionCommand});
  ASSERT_TRUE(version.ok());
  ASSERT_EQ((*version)->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ((*version)->integer, apply_abi::kModuleVersion);
  EXPECT_TRUE(server_->redis_healthy());
}

}  // namespace
}  // namespace uhc::testing
