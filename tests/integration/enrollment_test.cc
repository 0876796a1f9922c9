// enrollment-svc against a real redis-server: every event kind and outcome, relocation healing,
// restarts, Redis outages and pseudonymisation.
#include <httplib.h>

#include <cstdlib>
#include <cstring>
#include <map>

#include "absl/strings/string_view.h"
#include "common/config/files.h"
#include "common/observability/log.h"
#include "common/redis/history.h"
#include "common/redis/schema.h"
#include "enrollment-svc/event_applier.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"

namespace uhc::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kBatuBara[] = "12.19";
constexpr char kBinjai[] = "12.75";

class EnrollmentTest : public EnrollmentFixture {};

TEST_F(EnrollmentTest, EveryEventKindAndOutcomeWithParticipantAfterEach) {
  const std::string nik = TestNik(7);
  v1::Participant p;

  // A status change before any enrolment: kept (APPLIED), no participant yet.
  v1::IngestEventsResponse r = Ingest({StatusChanged("e0", nik, kBatuBara, kBaseTime, true)});
  EXPECT_EQ(r.results(0).outcome(), v1::EVENT_OUTCOME_APPLIED);
  EXPECT_EQ(GetParticipant(nik, &p).error_code(), grpc::StatusCode::NOT_FOUND);

  // Enrolled.
  EXPECT_EQ(
      IngestOne(Enrolled("e1", nik, kBatuBara, kBaseTime + 1, v1::SEGMENT_PBPU_MANDIRI, false)),
      v1::EVENT_OUTCOME_APPLIED);
  ASSERT_TRUE(GetParticipant(nik, &p).ok());
  EXPECT_EQ(p.region_code(), kBatuBara);
  EXPECT_EQ(p.segment(), v1::SEGMENT_PBPU_MANDIRI);
  EXPECT_FALSE(p.active());
  EXPECT_EQ(p.last_event_kind(), v1::EVENT_KIND_ENROLLED);
  EXPECT_EQ(p.last_event_time().seconds(), kBaseTime + 1);
  auto agg = Aggregate(kBatuBara);
  EXPECT_EQ(agg["part"], 1);
  EXPECT_EQ(agg["n4"], 1);
  EXPECT_EQ(agg["act"], 0);

  // The same event again: DUPLICATE; an older one is kept and, being before the enrolment,
  // changes nothing.
  EXPECT_EQ(
      IngestOne(Enrolled("e1", nik, kBatuBara, kBaseTime + 1, v1::SEGMENT_PBPU_MANDIRI, false)),
      v1::EVENT_OUTCOME_DUPLICATE);
  EXPECT_EQ(IngestOne(StatusChanged("e-old", nik, kBatuBara, kBaseTime, true)),
            v1::EVENT_OUTCOME_APPLIED);
  EXPECT_EQ(Aggregate(kBatuBara)["act"], 0);

  // Status changed.
  EXPECT_EQ(IngestOne(StatusChanged("e2", nik, kBatuBara, kBaseTime + 2, true)),
            v1::EVENT_OUTCOME_APPLIED);
  ASSERT_TRUE(GetParticipant(nik, &p).ok());
  EXPECT_TRUE(p.active());
  EXPECT_EQ(p.last_event_kind(), v1::EVENT_KIND_STATUS_CHANGED);
  EXPECT_EQ(Aggregate(kBatuBara)["a4"], 1);

  // Segment changed (taken over by the pemda).
  EXPECT_EQ(IngestOne(SegmentChanged("e3", nik, kBatuBara, kBaseTime + 3, v1::SEGMENT_PBPU_PEMDA)),
            v1::EVENT_OUTCOME_APPLIED);
  ASSERT_TRUE(GetParticipant(nik, &p).ok());
  EXPECT_EQ(p.segment(), v1::SEGMENT_PBPU_PEMDA);
  agg = Aggregate(kBatuBara);
  EXPECT_EQ(agg["n4"], 0);
  EXPECT_EQ(agg["a4"], 0);
  EXPECT_EQ(agg["n2"], 1);
  EXPECT_EQ(agg["a2"], 1);

  // Relocated to Binjai: leaves Batu Bara's counts, enters Binjai's with segment and status.
  EXPECT_EQ(IngestOne(Relocated("e4", nik, kBatuBara, kBaseTime + 4, kBinjai)),
            v1::EVENT_OUTCOME_APPLIED);
  ASSERT_TRUE(GetParticipant(nik, &p).ok());
  EXPECT_EQ(p.region_code(), kBinjai);
  EXPECT_EQ(p.segment(), v1::SEGMENT_PBPU_PEMDA);
  EXPECT_TRUE(p.active());
  EXPECT_EQ(p.last_event_kind(), v1::EVENT_KIND_RELOCATED);
  EXPECT_EQ(Aggregate(kBatuBara)["part"], 0);
  EXPECT_EQ(Aggregate(kBinjai)["a2"], 1);
  EXPECT_EQ(IngestOne(Relocated("e4", nik, kBatuBara, kBaseTime + 4, kBinjai)),
            v1::EVENT_OUTCOME_DUPLICATE);
  // An event for the region it left is kept and changes nothing: not a participant there then.
  EXPECT_EQ(IngestOne(StatusChanged("e5", nik, kBatuBara, kBaseTime + 5, false)),
            v1::EVENT_OUTCOME_APPLIED);
  EXPECT_EQ(Aggregate(kBatuBara)["part"], 0);
  EXPECT_EQ(Aggregate(kBinjai)["a2"], 1);

  // Terminated: leaves all counts; the record says so.
  EXPECT_EQ(IngestOne(Terminated("e6", nik, kBinjai, kBaseTime + 6)), v1::EVENT_OUTCOME_APPLIED);
  ASSERT_TRUE(GetParticipant(nik, &p).ok());
  EXPECT_EQ(p.state(), v1::PARTICIPANT_STATE_TERMINATED);
  EXPECT_EQ(p.last_event_kind(), v1::EVENT_KIND_TERMINATED);
  agg = Aggregate(kBinjai);
  EXPECT_EQ(agg["part"], 0);
  EXPECT_EQ(agg["act"], 0);
  EXPECT_EQ(IngestOne(Terminated("e6", nik, kBinjai, kBaseTime + 6)), v1::EVENT_OUTCOME_DUPLICATE);
  EXPECT_EQ(Aggregate(kBinjai)["ver"], 2);  // one relocation in, one termination
}

TEST_F(EnrollmentTest, BadEventsAreRejectedOneByOneAndGoodOnesApplied) {
  std::vector<v1::ParticipantEvent> batch = {
      Enrolled("ok-1", TestNik(1), kBatuBara, kBaseTime, v1::SEGMENT_PPU, true),
      Enrolled("bad-nik", "123", kBatuBara, kBaseTime, v1::SEGMENT_PPU, true),
      Enrolled("bad-region", TestNik(2), "12", kBaseTime, v1::SEGMENT_PPU, true),
      Enrolled("bad-seg", TestNik(3), kBatuBara, kBaseTime, static_cast<v1::Segment>(9), true),
      Enrolled("ok-2", TestNik(4), kBatuBara, kBaseTime, v1::SEGMENT_BP, false),
  };
  v1::IngestEventsResponse r = Ingest(batch);
  ASSERT_EQ(r.results_size(), 5);
  EXPECT_EQ(r.results(0).outcome(), v1::EVENT_OUTCOME_APPLIED);
  EXPECT_EQ(r.results(1).field(), "events[1].nik");
  EXPECT_EQ(r.results(2).field(), "events[2].region_code");
  EXPECT_EQ(r.results(3).field(), "events[3].enrolled.segment");
  EXPECT_EQ(r.results(4).outcome(), v1::EVENT_OUTCOME_APPLIED);
  EXPECT_EQ(r.applied(), 2);
  EXPECT_EQ(r.rejected(), 3);
  EXPECT_EQ(Aggregate(kBatuBara)["part"], 2);
}

TEST_F(EnrollmentTest, BatchLimitsAreInvalidArgument) {
  v1::IngestEventsRequest empty;
  v1::IngestEventsResponse response;
  grpc::ClientContext c1;
  EXPECT_EQ(enrollment_->IngestBatch(&c1, empty, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::IngestEventsRequest huge;
  for (int i = 0; i < 10001; ++i) {
    *huge.add_events() =
        Enrolled("h" + std::to_string(i), TestNik(i), kBatuBara, kBaseTime, v1::SEGMENT_PPU, true);
  }
  grpc::ClientContext c2;
  grpc::Status status = enrollment_->IngestBatch(&c2, huge, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("10000"));
  EXPECT_EQ(Aggregate(kBatuBara)["part"], 0);
}

// Calls of `command` Redis served so far (INFO commandstats).
int64_t CommandCalls(RedisConnection& redis, const std::string& command) {
  auto reply = redis.Command({"INFO", "commandstats"});
  if (!reply.ok()) return -1;
  absl::string_view info((*reply)->str, (*reply)->len);
  const std::string prefix = "cmdstat_" + command + ":calls=";
  size_t at = info.find(prefix);
  if (at == absl::string_view::npos) return 0;
  return std::strtoll(info.data() + at + prefix.size(), nullptr, 10);
}

// Calls that applied events, by either engine.
int64_t ApplyCalls(RedisConnection& redis) {
  return CommandCalls(redis, "fcall") + CommandCalls(redis, apply_abi::kApplyCommandV4);
}

// The fixture's Redis has uhc_module.so, so --apply_engine auto applies with it; a Redis without
// it gets the Lua function (and the module again once it has it), and --apply_engine module
// refuses to serve it.
TEST_F(EnrollmentTest, AutoEngineAppliesWithTheModuleAndWithoutItWithTheFunction) {
  StopService();
  ASSERT_NO_FATAL_FAILURE(StartService(Options()));
  auto redis = redis_->Connect();
  const int64_t fcalls = CommandCalls(*redis, "fcall");
  ASSERT_EQ(
      Ingest({Enrolled("m1", TestNik(1), kBinjai, kBaseTime, v1::SEGMENT_PPU, true)}).applied(), 1);
  EXPECT_EQ(CommandCalls(*redis, apply_abi::kApplyCommandV4), 1);
  EXPECT_EQ(CommandCalls(*redis, "fcall"), fcalls);
  EXPECT_THAT(server_->metrics().Render(), HasSubstr("\nuhc_apply_module 1\n"));

  StopService();
  redis_ = std::make_unique<RedisServer>();  // no module
  ASSERT_NO_FATAL_FAILURE(StartService(Options()));
  redis = redis_->Connect();
  for (int i = 0; i < 2; ++i) {  // the first falls back, the second goes straight to the function
    const std::string id = std::to_string(i);
    ASSERT_EQ(Ingest({Enrolled("f" + id, TestNik(i), kBinjai, kBaseTime, v1::SEGMENT_PPU, true)})
                  .applied(),
              1);
  }
  EXPECT_EQ(Aggregate(kBinjai)["part"], 2);
  auto errors = redis->Command({"INFO", "errorstats"});
  ASSERT_TRUE(errors.ok());
  EXPECT_THAT(std::string((*errors)->str, (*errors)->len), HasSubstr("errorstat_ERR:count=1\r"));
  EXPECT_THAT(server_->metrics().Render(), HasSubstr("\nuhc_apply_module 0\n"));

  StopService();
  {
    EnrollmentServerOptions options = Options();
    options.limits.apply_engine = ApplyEngine::kModule;
    auto server = EnrollmentServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    // Redis answers (PING) but has no module: the service never becomes ready.
    EXPECT_FALSE(WaitFor([&] { return (*server)->redis_healthy(); }, 1500));
  }

  // Redis restarted with the module: once the retry interval has passed, auto applies with it
  // again, without a restart of the service.
  EnrollmentServerOptions retrying = Options();
  retrying.limits.module_retry = absl::ZeroDuration();
  ASSERT_NO_FATAL_FAILURE(StartService(retrying));
  ASSERT_EQ(
      Ingest({Enrolled("f2", TestNik(2), kBinjai, kBaseTime, v1::SEGMENT_PPU, true)}).applied(), 1);
  EXPECT_THAT(server_->metrics().Render(), HasSubstr("\nuhc_apply_module 0\n"));
  const int port = redis_->port();
  redis_.reset();
  redis_ = std::make_unique<RedisServer>(testing::WithApplyModule(), port);
  redis = redis_->Connect();
  ASSERT_TRUE(WaitFor(
      [&] {  // the service may not have seen Redis come back yet
        v1::IngestEventsRequest request;
        *request.add_events() =
            Enrolled("f3", TestNik(3), kBinjai, kBaseTime, v1::SEGMENT_PPU, true);
        v1::IngestEventsResponse response;
        grpc::ClientContext context;
        return enrollment_->IngestBatch(&context, request, &response).ok();
      },
      10000));
  EXPECT_EQ(CommandCalls(*redis, apply_abi::kApplyCommandV4), 1);
  EXPECT_EQ(CommandCalls(*redis, "fcall"), 0);
  EXPECT_THAT(server_->metrics().Render(), HasSubstr("\nuhc_apply_module 1\n"));
}

// The first history trim (a FCALL per kab/kota, at start) waits until Redis is up and the
// functions are loaded, instead of failing with "Function not found" on a fresh Redis and
// retrying seconds later.
TEST_F(EnrollmentTest, TheFirstHistoryTrimWaitsForTheFunctions) {
  StopService();
  redis_ = std::make_unique<RedisServer>(testing::WithApplyModule());  // no functions yet
  EnrollmentServerOptions options = Options();
  options.history_days = EnrollmentServerOptions().history_days;
  ASSERT_NO_FATAL_FAILURE(StartService(options));
  auto redis = redis_->Connect();
  constexpr int64_t kKabKota = 514;
  ASSERT_TRUE(WaitFor([&] { return CommandCalls(*redis, "fcall") >= kKabKota; }, 10000));
  auto errors = redis->Command({"INFO", "errorstats"});
  ASSERT_TRUE(errors.ok());
  EXPECT_THAT(std::string((*errors)->str, (*errors)->len), Not(HasSubstr("errorstat_")));
}

// --events_per_call bounds each call; a batch's relocations send their ENTERs in one more call
// (the follow-ups of the first).
TEST_F(EnrollmentTest, EventsPerCallBoundsEachCallAndRelocationsTakeOneMore) {
  StopService();
  EnrollmentServerOptions options = Options();
  options.limits.events_per_redis_call = 40;
  ASSERT_NO_FATAL_FAILURE(StartService(options));
  auto redis = redis_->Connect();
  std::vector<v1::ParticipantEvent> enrol, mixed, over;
  for (int i = 0; i < 20; ++i) {
    const std::string id = std::to_string(i);
    enrol.push_back(Enrolled("e" + id, TestNik(i), kBatuBara, kBaseTime, v1::SEGMENT_PPU, true));
    mixed.push_back(Relocated("r" + id, TestNik(i), kBatuBara, kBaseTime + 1, kBinjai));
    mixed.push_back(
        Enrolled("n" + id, TestNik(100 + i), kBatuBara, kBaseTime, v1::SEGMENT_PPU, true));
  }
  for (int i = 0; i < 41; ++i) {
    over.push_back(Enrolled("o" + std::to_string(i), TestNik(200 + i), kBinjai, kBaseTime,
                            v1::SEGMENT_BP, false));
  }
  ASSERT_EQ(Ingest(enrol).applied(), 20);
  int64_t before = ApplyCalls(*redis);
  EXPECT_EQ(Ingest(mixed).applied(), 40);
  EXPECT_EQ(ApplyCalls(*redis) - before, 2);  // 40 events, then 20 ENTERs
  before = ApplyCalls(*redis);
  EXPECT_EQ(Ingest(over).applied(), 41);
  EXPECT_EQ(ApplyCalls(*redis) - before, 2);
  EXPECT_EQ(Aggregate(kBinjai)["part"], 61);
  EXPECT_EQ(Aggregate(kBatuBara)["part"], 20);
}

// A call names its keys by 16-bit index, so the events per call have a ceiling.
TEST_F(EnrollmentTest, EventsPerCallOutsideItsRangeIsRefused) {
  for (int bad : {0, EnrollmentLimits::kMaxEventsPerRedisCall + 1}) {
    EnrollmentServerOptions options = Options();
    options.limits.events_per_redis_call = bad;
    auto server = EnrollmentServer::Start(options);
    ASSERT_FALSE(server.ok()) << bad;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(server.status().message(), HasSubstr("events_per_call"));
  }
}

// Issue #26: aggregates of layouts 1 and 2 are moved to layout 3 when enrollment-svc starts, before
// it serves, and uhc:meta then says layout 3; data of a newer layout (a rollback) is refused.
TEST_F(EnrollmentTest, OldLayoutsAreMovedAtStartAndANewerLayoutIsRefused) {
  StopService();
  auto redis = redis_->Connect();
  ASSERT_TRUE(redis->Command({"HDEL", kMetaKey, kMetaLayout}).ok());
  ASSERT_TRUE(redis
                  ->Command({"HSET", AggregateKey(kBinjai), "n4", "2", "a4", "1", "part", "2",
                             "act", "1", "ver", "2", "last", "1735689600000"})
                  .ok());
  ASSERT_NO_FATAL_FAILURE(StartService());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto layout = redis->Command({"HGET", kMetaKey, kMetaLayout});
        return layout.ok() && (*layout)->type == REDIS_REPLY_STRING &&
               std::string((*layout)->str, (*layout)->len) == "3";
      },
      10000))
      << "uhc:meta layout not recorded";
  auto part = redis->Command({"HEXISTS", AggregateKey(kBinjai), "part"});
  ASSERT_TRUE(part.ok());
  EXPECT_EQ((*part)->integer, 0) << "layout 1's fields still there";
  EXPECT_EQ(Aggregate(kBinjai)["part"], 2);
  EXPECT_EQ(Aggregate(kBinjai)["act"], 1);
  EXPECT_EQ(Ingest({Enrolled("lay1", TestNik(77), kBinjai, kBaseTime, v1::SEGMENT_PBI_APBN, true)})
                .applied(),
            1);
  EXPECT_EQ(Aggregate(kBinjai)["part"], 3);
  EXPECT_EQ(Aggregate(kBinjai)[agg::kVersion], 3);

  StopService();
  ASSERT_TRUE(redis->Command({"HSET", kMetaKey, kMetaLayout, "4"}).ok());
  auto server = EnrollmentServer::Start(Options());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(server.status().message(), HasSubstr("layout 4"));
  ASSERT_TRUE(redis->Command({"HSET", kMetaKey, kMetaLayout, "3"}).ok());
}

TEST_F(EnrollmentTest, ConcurrentGroupsOutsideItsRangeIsRefused) {
  for (int bad : {0, EnrollmentLimits::kMaxConcurrentGroups + 1}) {
    EnrollmentServerOptions options = Options();
    options.limits.concurrent_groups = bad;
    auto server = EnrollmentServer::Start(options);
    ASSERT_FALSE(server.ok()) << bad;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(server.status().message(), HasSubstr("concurrent_groups"));
  }
  for (int good : {1, EnrollmentLimits::kMaxConcurrentGroups}) {
    StopService();
    EnrollmentServerOptions options = Options();
    options.limits.concurrent_groups = good;
    ASSERT_NO_FATAL_FAILURE(StartService(options));
    EXPECT_EQ(Ingest({Enrolled("cg" + std::to_string(good), TestNik(good), kBinjai, kBaseTime,
                               v1::SEGMENT_PBI_APBN, true)})
                  .applied(),
              1);
  }
}

TEST_F(EnrollmentTest, InterruptedRelocationIsHealedByTheRetry) {
  const std::string nik = TestNik(11);
  ASSERT_EQ(IngestOne(Enrolled("a", nik, kBatuBara, kBaseTime, v1::SEGMENT_PBI_APBN, true)),
            v1::EVENT_OUTCOME_APPLIED);
  // Apply only the leave, as if the service died before sending its follow-up ENTER.
  RegionRegistry regions = *LoadRegions(UHC_SOURCE_DIR "/data");
  NikKeyer keyer = *NikKeyer::Create(kTestSecret, 4);
  EventValidator validator(&regions, &keyer);
  v1::ParticipantEvent move = Relocated("move", nik, kBatuBara, kBaseTime + 10, kBinjai);
  PreparedEvent leave = validator.Prepare(move, 0, /*in_batch=*/false, absl::Now());
  ASSERT_FALSE(leave.rejected);
  auto redis = redis_->Connect();
  std::string field(leave.key.field.begin(), leave.key.field.end());
  std::string arg = apply_abi::EncodeEventArgV4(apply_abi::kLeave, 1, 3, field,
                                                leave.occurred_at_ms, leave.event_id_hash, 0, 1);
  auto reply = redis->Command(
      {"FCALL", apply_abi::kApplyFunctionV4, "3", AggregateKey(kBatuBara), DaysKey(kBatuBara),
       BucketKey(kBatuBara, leave.key.bucket), arg,
       std::string(1, static_cast<char>(std::string(kBinjai).size())) + kBinjai, "0"});
  ASSERT_TRUE(reply.ok());
  ASSERT_TRUE(ReplyStatus(reply->get()).ok());
  EXPECT_EQ(Aggregate(kBatuBara)["part"], 0);
  EXPECT_EQ(Aggregate(kBinjai)["part"], 0);  // the participant is counted nowhere: the gap

  // The client retries the whole event: it is kept already (DUPLICATE), and its follow-up goes
  // again, so the participant arrives.
  EXPECT_EQ(IngestOne(move), v1::EVENT_OUTCOME_DUPLICATE);
  EXPECT_EQ(Aggregate(kBatuBara)["part"], 0);
  EXPECT_EQ(Aggregate(kBinjai)["part"], 1);
  EXPECT_EQ(Aggregate(kBinjai)["a1"], 1);
  EXPECT_EQ(IngestOne(move), v1::EVENT_OUTCOME_DUPLICATE);
  EXPECT_EQ(Aggregate(kBinjai)["part"], 1);
}

// A participant who moved back and forth 40 times, then a late status change before the first
// move: every move's carried state changes, and each call re-reports the LEAVEs after its events;
// an ENTER already sent with a version as large is not sent again, so this takes a round per move
// (not the exponentially many ENTERs it once would), and the counts follow the late event.
TEST_F(EnrollmentTest, ALateEventBeforeManyMovesBackAndForthIsExactAndBounded) {
  const std::string nik = TestNik(21);
  std::vector<v1::ParticipantEvent> history = {
      Enrolled("b0", nik, kBatuBara, kBaseTime, v1::SEGMENT_PBPU_MANDIRI, true)};
  constexpr int kMoves = 40;
  for (int k = 0; k < kMoves; ++k) {
    history.push_back(Relocated("b-move" + std::to_string(k), nik, k % 2 ? kBinjai : kBatuBara,
                                kBaseTime + 100 + k, k % 2 ? kBatuBara : kBinjai));
  }
  ASSERT_EQ(Ingest(history).applied(), kMoves + 1);
  EXPECT_EQ(Aggregate(kBatuBara)["a4"], 1);  // 40 moves: back in Batu Bara, active
  EXPECT_EQ(Aggregate(kBinjai)["part"], 0);
  auto redis = redis_->Connect();
  const int64_t before = ApplyCalls(*redis);
  EXPECT_EQ(IngestOne(StatusChanged("b-late", nik, kBatuBara, kBaseTime + 50, false)),
            v1::EVENT_OUTCOME_APPLIED);
  EXPECT_LE(ApplyCalls(*redis) - before, kMoves + 5);  // one call, then a round per move
  auto agg = Aggregate(kBatuBara);
  EXPECT_EQ(agg["n4"], 1);
  EXPECT_EQ(agg["a4"], 0);  // carried through every move
  EXPECT_EQ(Aggregate(kBinjai)["part"], 0);
}

std::vector<v1::ParticipantEvent> SmallHistory() {
  std::vector<v1::ParticipantEvent> events;
  for (int i = 0; i < 300; ++i) {
    std::string nik = TestNik(1000 + i);
    std::string id = "p" + std::to_string(i);
    events.push_back(
        Enrolled(id + "-e", nik, kBatuBara, kBaseTime + i, v1::SEGMENT_PBPU_MANDIRI, i % 2 == 0));
    if (i % 3 == 0)
      events.push_back(StatusChanged(id + "-s", nik, kBatuBara, kBaseTime + i + 1000, i % 2 != 0));
    if (i % 10 == 0) {
      events.push_back(Relocated(id + "-r", nik, kBatuBara, kBaseTime + i + 2000, kBinjai));
    }
  }
  return events;
}

TEST_F(EnrollmentTest, RestartBetweenBatchesAndFullReplayChangesNothing) {
  std::vector<v1::ParticipantEvent> events = SmallHistory();
  std::vector<v1::ParticipantEvent> first(events.begin(), events.begin() + 200);
  std::vector<v1::ParticipantEvent> second(events.begin() + 200, events.end());
  Ingest(first);
  StopService();
  StartService();
  Ingest(second);
  auto batu_bara = Aggregate(kBatuBara);
  auto binjai = Aggregate(kBinjai);
  // Replay everything after another restart: all DUPLICATE or STALE, counts unchanged.
  StopService();
  StartService();
  v1::IngestEventsResponse replay = Ingest(events);
  EXPECT_EQ(replay.applied(), 0);
  EXPECT_EQ(replay.rejected(), 0);
  EXPECT_EQ(Aggregate(kBatuBara), batu_bara);
  EXPECT_EQ(Aggregate(kBinjai), binjai);
  EXPECT_EQ(batu_bara["part"] + binjai["part"], 300);
  EXPECT_EQ(binjai["part"], 30);
}

TEST_F(EnrollmentTest, RedisOutageFailsFastFlipsHealthAndLosesNothingAcked) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  auto serving = [&] {
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    return health->Check(&context, request, &response).ok() &&
           response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  };
  // redis_healthy() (awaited at start) turns true just before readiness does.
  ASSERT_TRUE(WaitFor(serving, 2000));
  std::vector<v1::ParticipantEvent> events = SmallHistory();
  v1::IngestEventsResponse before =
      Ingest(std::vector<v1::ParticipantEvent>(events.begin(), events.begin() + 100));
  ASSERT_EQ(before.rejected(), 0);

  redis_->Stop(false);  // SHUTDOWN SAVE: acked writes are in the dump
  v1::IngestEventsRequest request;
  *request.add_events() =
      Enrolled("down", TestNik(9999), kBatuBara, kBaseTime, v1::SEGMENT_PPU, true);
  v1::IngestEventsResponse response;
  bool unavailable = WaitFor(
      [&] {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
        return enrollment_->IngestBatch(&context, request, &response).error_code() ==
               grpc::StatusCode::UNAVAILABLE;
      },
      5000);
  EXPECT_TRUE(unavailable);
  EXPECT_TRUE(WaitFor([&] { return !serving(); }, 5000));

  redis_->Restart();
  EXPECT_TRUE(WaitFor([&] { return serving(); }, 5000));
  v1::IngestEventsResponse after =
      Ingest(std::vector<v1::ParticipantEvent>(events.begin() + 100, events.end()));
  EXPECT_EQ(after.rejected(), 0);
  // Replaying the first part: every acked event is still there.
  v1::IngestEventsResponse replay =
      Ingest(std::vector<v1::ParticipantEvent>(events.begin(), events.begin() + 100));
  EXPECT_EQ(replay.applied(), 0);
  EXPECT_EQ(Aggregate(kBatuBara)["part"] + Aggregate(kBinjai)["part"], 300);
}

TEST_F(EnrollmentTest, NikAppearsNowhereInRedisOrLogs) {
  std::string logs;
  SetLogSinkForTest([&logs](absl::string_view line) { logs.append(line.data(), line.size()); });
  std::vector<std::string> niks = {TestNik(424242), TestNik(77)};
  Ingest({Enrolled("x1", niks[0], kBatuBara, kBaseTime, v1::SEGMENT_PPU, true),
          Enrolled("x2", niks[1], kBatuBara, kBaseTime, v1::SEGMENT_PPU, true),
          StatusChanged("x3", TestNik(5555), kBinjai, kBaseTime, true),  // rejected: unknown
          Relocated("x4", niks[1], kBatuBara, kBaseTime + 1, kBinjai)});
  v1::Participant p;
  ASSERT_TRUE(GetParticipant(niks[0], &p).ok());
  // Force a logged failure path too: Redis down for one batch.
  redis_->Stop(false);
  v1::IngestEventsRequest request;
  *request.add_events() = Enrolled("x5", niks[0], kBatuBara, kBaseTime + 9, v1::SEGMENT_PPU, true);
  v1::IngestEventsResponse response;
  grpc::ClientContext context;
  (void)enrollment_->IngestBatch(&context, request, &response);
  redis_->Restart();
  ASSERT_TRUE(WaitFor([this] { return server_->redis_healthy(); }, 5000));
  SetLogSinkForTest(nullptr);

  auto redis = redis_->Connect();
  std::string dump;
  auto keys = redis->Command({"KEYS", "*"});
  ASSERT_TRUE(keys.ok());
  EXPECT_GT((*keys)->elements, 2u);
  for (size_t i = 0; i < (*keys)->elements; ++i) {
    std::string key((*keys)->element[i]->str, (*keys)->element[i]->len);
    dump += key;
    auto type = redis->Command({"TYPE", key});
    if (std::string((*type)->str) != "hash") continue;
    auto all = redis->Command({"HGETALL", key});
    for (size_t j = 0; j < (*all)->elements; ++j) {
      dump.append((*all)->element[j]->str, (*all)->element[j]->len);
    }
  }
  ASSERT_FALSE(logs.empty());
  httplib::Client metrics_client("127.0.0.1", server_->metrics_port());
  auto metrics = metrics_client.Get("/metrics");
  ASSERT_TRUE(metrics);
  ASSERT_FALSE(metrics->body.empty());
  for (const std::string& nik : niks) {
    EXPECT_EQ(dump.find(nik), std::string::npos);
    EXPECT_EQ(logs.find(nik), std::string::npos);
    EXPECT_EQ(metrics->body.find(nik), std::string::npos);
    // Not even the personal middle part (district + birth date) appears.
    EXPECT_EQ(dump.find(nik.substr(4, 8)), std::string::npos);
  }
}

TEST_F(EnrollmentTest, EnrollCoversTodayUnderPrioritasElseNextMonth) {
  v1::SetRegionStatusRequest status;
  status.set_region_code(kBinjai);
  status.set_uhc_prioritas(true);
  v1::RegionSettings settings;
  grpc::ClientContext c0;
  ASSERT_TRUE(admin_->SetRegionStatus(&c0, status, &settings).ok());

  auto enroll = [&](const std::string& id, const std::string& nik, const std::string& region,
                    v1::EnrollResponse* out) {
    v1::EnrollRequest request;
    request.set_request_id(id);
    request.set_nik(nik);
    request.set_region_code(region);
    request.set_segment(v1::SEGMENT_PBPU_PEMDA);
    request.mutable_event_time()->set_seconds(1768971600);  // 2026-01-21 05:00 UTC (12:00 WIB)
    grpc::ClientContext context;
    return enrollment_->Enroll(&context, request, out);
  };
  v1::EnrollResponse today, later, again;
  ASSERT_TRUE(enroll("r1", TestNik(1), kBinjai, &today).ok());
  EXPECT_EQ(today.outcome(), v1::EVENT_OUTCOME_APPLIED);
  EXPECT_TRUE(today.participant().active());
  EXPECT_EQ(today.cover_starts(), "2026-01-21");
  ASSERT_TRUE(enroll("r2", TestNik(2), kBatuBara, &later).ok());
  EXPECT_FALSE(later.participant().active());
  EXPECT_EQ(later.cover_starts(), "2026-02-01");
  ASSERT_TRUE(enroll("r1", TestNik(1), kBinjai, &again).ok());
  EXPECT_EQ(again.outcome(), v1::EVENT_OUTCOME_DUPLICATE);
  EXPECT_EQ(Aggregate(kBinjai)["a2"], 1);
  EXPECT_EQ(Aggregate(kBatuBara)["a2"], 0);
  EXPECT_EQ(Aggregate(kBatuBara)["n2"], 1);

  v1::EnrollResponse bad;
  grpc::Status status_bad = enroll("r3", "1234", kBinjai, &bad);
  EXPECT_EQ(status_bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status_bad.error_message(), HasSubstr("nik"));
  EXPECT_FALSE(status_bad.error_details().empty());  // google.rpc.BadRequest
}

TEST_F(EnrollmentTest, AdminCallsAreIdempotentAndValidated) {
  v1::SetPopulationRequest population;
  population.set_region_code(kBatuBara);
  population.set_population(12288);  // the limit: 2^4 buckets x 768 participants
  population.set_as_of_date("2025-06-30");
  v1::RegionSettings first, second;
  grpc::ClientContext c1, c2;
  ASSERT_TRUE(admin_->SetPopulation(&c1, population, &first).ok());
  ASSERT_TRUE(admin_->SetPopulation(&c2, population, &second).ok());
  EXPECT_EQ(first.population(), 12288);
  {
    // One more than the bucket layout holds compactly: refused, nothing changed.
    population.set_population(12289);
    grpc::ClientContext context;
    v1::RegionSettings refused;
    grpc::Status s = admin_->SetPopulation(&context, population, &refused);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("at most 12288 participants per kab/kota"));
    EXPECT_THAT(s.error_message(), HasSubstr("--bucket_bits"));
    // A province's figure is a roll-up, not a bucket layout's.
    population.set_region_code("12");
    population.set_population(417000);
    grpc::ClientContext province;
    EXPECT_TRUE(admin_->SetPopulation(&province, population, &refused).ok());
    population.set_region_code(kBatuBara);
  }
  EXPECT_EQ(first.version(), second.version());
  v1::SetRegionStatusRequest status;
  status.set_region_code(kBatuBara);
  status.set_uhc_prioritas(true);
  status.set_dues_paid_through("2025-09");
  grpc::ClientContext c3, c4;
  ASSERT_TRUE(admin_->SetRegionStatus(&c3, status, &first).ok());
  ASSERT_TRUE(admin_->SetRegionStatus(&c4, status, &second).ok());
  EXPECT_EQ(first.version(), second.version());
  EXPECT_EQ(second.population(), 12288);
  EXPECT_EQ(second.dues_paid_through(), "2025-09");
  EXPECT_TRUE(second.uhc_prioritas());

  population.set_region_code("ID");  // the nation: not an admin region
  population.set_population(-1);
  population.set_as_of_date("yesterday");
  grpc::ClientContext c5;
  grpc::Status bad = admin_->SetPopulation(&c5, population, &first);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("region_code"));
  EXPECT_THAT(bad.error_message(), HasSubstr("population"));
  EXPECT_THAT(bad.error_message(), HasSubstr("as_of_date"));
  // A code that names no region: NOT_FOUND, nothing written.
  population.set_region_code("99.99");
  grpc::ClientContext c6;
  EXPECT_EQ(admin_->SetPopulation(&c6, population, &first).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(EnrollmentTest, MetricsCountEventsByOutcome) {
  Ingest({Enrolled("m1", TestNik(1), kBatuBara, kBaseTime, v1::SEGMENT_PPU, true),
          Enrolled("m1", TestNik(1), kBatuBara, kBaseTime, v1::SEGMENT_PPU, true)});
  httplib::Client client("127.0.0.1", server_->metrics_port());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_THAT(response->body, HasSubstr("uhc_events_total{outcome=\"applied\"} 1"));
  EXPECT_THAT(response->body, HasSubstr("uhc_events_total{outcome=\"duplicate\"} 1"));
  EXPECT_THAT(response->body, HasSubstr("uhc_batch_seconds_count 1"));
  EXPECT_THAT(response->body, HasSubstr("uhc_redis_errors_total 0"));
}

}  // namespace
}  // namespace uhc::testing
