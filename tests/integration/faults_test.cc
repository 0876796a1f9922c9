// Faults with exact aggregates afterwards: redis-server killed with AOF on, several
// enrollment-svc replicas on the same regions, and Redis behind a password.
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/domain/identity.h"
#include "common/redis/history.h"
#include "common/redis/schema.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/delivery.h"
#include "tests/support/events.h"
#include "tests/support/model_check.h"
#include "tests/support/process.h"
#include "tests/support/reference_model.h"

namespace uhc::testing {
namespace {

constexpr const char* kRegions[] = {"12.19", "12.75", "16.07"};

std::vector<v1::ParticipantEvent> History(int people, int first) {
  std::vector<v1::ParticipantEvent> events;
  for (int i = 0; i < people; ++i) {
    events.push_back(Enrolled("e" + std::to_string(first + i), TestNik(first + i), kRegions[i % 3],
                              kBaseTime + i, v1::SEGMENT_PBPU_MANDIRI, i % 2 == 0));
  }
  for (int i = 0; i < people; ++i) {
    events.push_back(StatusChanged("s" + std::to_string(first + i), TestNik(first + i),
                                   kRegions[i % 3], kBaseTime + 100000 + i, i % 3 != 0));
    if (i % 5 == 0) {
      events.push_back(Relocated("r" + std::to_string(first + i), TestNik(first + i),
                                 kRegions[i % 3], kBaseTime + 200000 + i, kRegions[(i + 1) % 3]));
    }
  }
  return events;
}

std::map<std::string, int64_t> Aggregate(RedisConnection& redis, const std::string& region) {
  auto reply = redis.Command({"HGETALL", AggregateKey(region)});
  if (!reply.ok()) return {};
  return AggregateFields(reply->get());
}

void ExpectExact(RedisConnection& redis, const ReferenceModel& model) {
  for (const char* r : kRegions) {
    auto have = Aggregate(redis, r);
    const RegionCounts& want = model.regions().at(r);
    EXPECT_EQ(have["part"], want.Participants()) << r;
    EXPECT_EQ(have["act"], want.Active()) << r;
    for (int s = 1; s <= 5; ++s) {
      EXPECT_EQ(have["n" + std::to_string(s)], want.participants[s]) << r << " " << s;
      EXPECT_EQ(have["a" + std::to_string(s)], want.active[s]) << r << " " << s;
    }
    // The history by event day, each day from before the first event to after the last.
    auto agg = redis.Command({"HGETALL", AggregateKey(r)});
    auto days = redis.Command({"HGETALL", DaysKey(r)});
    ASSERT_TRUE(agg.ok() && days.ok());
    RegionHistory history = ParseHistory(agg->get(), days->get(), nullptr);
    const int64_t first = WibDayOfMillis(kBaseTime * 1000);
    for (int64_t day = first - 1; day <= first + 4; ++day) {
      RegionCounts have_on = history.On(CivilDayOf(day)), want_on = model.CountsOn(r, day);
      EXPECT_EQ(have_on.participants, want_on.participants) << r << " day " << day;
      EXPECT_EQ(have_on.active, want_on.active) << r << " day " << day;
    }
  }
}

class FaultsTest : public EnrollmentFixture {
 protected:
  void SetUp() override {}  // each test starts its own Redis

  // IngestBatch in batches of `size`, resending a batch until it is acked.
  void IngestAll(v1::EnrollmentService::Stub* stub, const std::vector<v1::ParticipantEvent>& events,
                 size_t size, std::atomic<int>* acked_batches = nullptr) {
    for (size_t start = 0; start < events.size(); start += size) {
      v1::IngestEventsRequest request;
      for (size_t i = start; i < std::min(events.size(), start + size); ++i) {
        *request.add_events() = events[i];
      }
      bool acked = WaitFor(
          [&] {
            v1::IngestEventsResponse response;
            grpc::ClientContext context;
            context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
            return stub->IngestBatch(&context, request, &response).ok();
          },
          30000);
      ASSERT_TRUE(acked) << "batch at " << start << " never acked";
      if (acked_batches) ++*acked_batches;
    }
  }
};

TEST_F(FaultsTest, RedisKilledWithAofKeepsEveryAckedEvent) {
  redis_ = std::make_unique<RedisServer>(
      std::vector<std::string>{"--appendonly", "yes", "--appendfsync", "everysec"});
  StartService();
  std::vector<v1::ParticipantEvent> events = History(6000, 0);
  ReferenceModel model;
  for (const auto& e : events) model.Apply(e);
  std::atomic<int> acked{0};
  int acked_at_kill = 0;
  std::thread killer([&] {
    WaitFor([&] { return acked.load() >= 10; }, 30000);
    redis_->Stop(/*kill=*/true);  // kill -9 while batches are flowing
    acked_at_kill = acked.load();
    redis_->Restart();
  });
  IngestAll(enrollment_.get(), events, 200, &acked);
  killer.join();
  EXPECT_LT(acked_at_kill, static_cast<int>(events.size() / 200)) << "killed after the stream";
  auto redis = redis_->Connect();
  ExpectExact(*redis, model);
  // Every acked event is there: resending everything applies nothing.
  int applied = 0;
  for (size_t start = 0; start < events.size(); start += 5000) {
    v1::IngestEventsRequest again;
    for (size_t i = start; i < std::min(events.size(), start + 5000); ++i) {
      *again.add_events() = events[i];
    }
    v1::IngestEventsResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(enrollment_->IngestBatch(&context, again, &response).ok());
    applied += response.applied();
  }
  EXPECT_EQ(applied, 0);
  ExpectExact(*redis, model);
}

// Issue #26: Redis killed (-9) and its AOF replayed in the middle of a shuffled delivery with
// resends, each batch resent until acknowledged (a relocation's follow-up cut off by the kill is
// sent again by the retry): the records, the live figures and every day's figures are the
// model's, with the module and with the function.
TEST_F(FaultsTest, RedisKilledInTheMiddleOfAShuffledDeliveryEndsAsTheModel) {
  const std::vector<std::string> regions(std::begin(kRegions), std::end(kRegions));
  std::vector<v1::ParticipantEvent> events;
  for (auto& e : GenerateHistory(regions, 1500, 15000, 2026, 70 * 86400)) {
    if (e.event_time().seconds() < kBaseTime + 698 * 86400) events.push_back(std::move(e));
  }
  ReferenceModel model;
  for (const auto& e : events) model.Apply(e);
  const std::vector<v1::ParticipantEvent> shuffled = Deal(events, Delivery::kResent, 9).front();
  for (const ApplyEngine engine : {ApplyEngine::kModule, ApplyEngine::kFunction}) {
    SCOPED_TRACE(engine == ApplyEngine::kModule ? "module" : "function");
    StopService();
    redis_ = std::make_unique<RedisServer>(
        WithApplyModule({"--appendonly", "yes", "--appendfsync", "everysec"}));
    EnrollmentServerOptions options = Options();
    options.limits.apply_engine = engine;
    ASSERT_NO_FATAL_FAILURE(StartService(options));
    std::atomic<int> acked{0};
    int acked_at_kill = 0;
    std::thread killer([&] {
      WaitFor([&] { return acked.load() >= 20; }, 30000);
      redis_->Stop(/*kill=*/true);
      acked_at_kill = acked.load();
      redis_->Restart();
    });
    IngestAll(enrollment_.get(), shuffled, 100, &acked);
    killer.join();
    EXPECT_LT(acked_at_kill, static_cast<int>(shuffled.size() / 100)) << "killed after the end";
    ReconnectingConnection redis(redis_->options());
    ExpectAggregatesEqualModel(redis, model, regions);
    EXPECT_GT(ExpectRecordsEqualModel(redis, model, *NikKeyer::Create(kTestSecret, 4)), 1500u);
    const auto [first, last] = DaysOf(events);
    EXPECT_EQ(ExpectEveryDayEqualsModel(redis, model, regions, first, last),
              static_cast<int>(regions.size() * (last - first + 1)));
  }
}

TEST_F(FaultsTest, SeveralReplicasWritingTheSameRegionsStayExact) {
  redis_ = std::make_unique<RedisServer>();
  StartService();
  EnrollmentServerOptions options = Options();
  options.server.metrics_port = -1;
  auto second = EnrollmentServer::Start(options);
  ASSERT_TRUE(second.ok()) << second.status();
  auto stub2 = v1::EnrollmentService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*second)->port()), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(WaitFor([&] { return (*second)->redis_healthy(); }, 5000));
  // Both replicas get every event (as if callers retried on another pod), in batches of
  // different sizes, at the same time.
  std::vector<v1::ParticipantEvent> events = History(4000, 0);
  ReferenceModel model;
  for (const auto& e : events) model.Apply(e);
  std::thread a([&] { IngestAll(enrollment_.get(), events, 150); });
  std::thread b([&] { IngestAll(stub2.get(), events, 401); });
  a.join();
  b.join();
  auto redis = redis_->Connect();
  ExpectExact(*redis, model);
}

TEST_F(FaultsTest, RedisWithAPassword) {
  redis_ = std::make_unique<RedisServer>(std::vector<std::string>{"--requirepass", "uhc-test-pw"});
  StartService();  // options() carries the password
  std::vector<v1::ParticipantEvent> events = History(300, 0);
  ReferenceModel model;
  for (const auto& e : events) model.Apply(e);
  IngestAll(enrollment_.get(), events, 100);
  auto redis = redis_->Connect();
  ExpectExact(*redis, model);
  // A wrong password: the service never becomes ready.
  EnrollmentServerOptions options = Options();
  options.server.metrics_port = -1;
  options.redis.password = "wrong";
  auto wrong = EnrollmentServer::Start(options);
  ASSERT_TRUE(wrong.ok());
  EXPECT_FALSE(WaitFor([&] { return (*wrong)->redis_healthy(); }, 1500));
}

TEST_F(FaultsTest, RedisAwayUnderLoadFailsFastAndServesWithinTwoSecondsOfItsReturn) {
  redis_ = std::make_unique<RedisServer>();
  StartService();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, unavailable{0}, other{0};
  std::atomic<int64_t> slowest_failure_ms{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      for (int n = 0; !stop; ++n) {
        v1::IngestEventsRequest request;
        for (int i = 0; i < 50; ++i) {
          int id = t * 1000000 + n * 50 + i;
          *request.add_events() = Enrolled("l" + std::to_string(id), TestNik(id), kRegions[i % 3],
                                           kBaseTime, v1::SEGMENT_PPU, true);
        }
        v1::IngestEventsResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
        auto begin = std::chrono::steady_clock::now();
        grpc::Status status = enrollment_->IngestBatch(&context, request, &response);
        int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - begin)
                         .count();
        if (status.ok()) {
          ++ok;
        } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
          ++unavailable;
          if (ms > slowest_failure_ms) slowest_failure_ms = ms;
        } else {
          ++other;
        }
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return ok.load() > 20; }, 10000));
  redis_->Stop(false);
  ASSERT_TRUE(WaitFor([&] { return unavailable.load() > 20; }, 10000));
  // Failed calls wake the health probe (ReportFailure), which then finds Redis gone: readiness
  // drops well before the next regular probe (1 s), though not necessarily before those calls end.
  EXPECT_TRUE(WaitFor([&] { return !server_->redis_healthy(); }, 500));
  redis_->Restart();
  auto back = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return server_->redis_healthy(); }, 5000));
  EXPECT_LT(std::chrono::steady_clock::now() - back, std::chrono::seconds(2));
  int ok_before = ok.load();
  EXPECT_TRUE(WaitFor([&] { return ok.load() > ok_before + 10; }, 5000));
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_LT(slowest_failure_ms.load(), 2000) << "UNAVAILABLE within the deadline";
}

TEST_F(FaultsTest, RedisAclUser) {
  redis_ = std::make_unique<RedisServer>(std::vector<std::string>{"--requirepass", "admin-pw"});
  auto admin = redis_->Connect();
  auto created = admin->Command({"ACL", "SETUSER", "uhc", "on", ">uhc-user-pw", "~uhc:*", "+@all"});
  ASSERT_TRUE(created.ok() && ReplyStatus(created->get()).ok());
  EnrollmentServerOptions options = Options();
  options.server.metrics_port = -1;
  options.redis.user = "uhc";
  options.redis.password = "uhc-user-pw";
  auto server = EnrollmentServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(WaitFor([&] { return (*server)->redis_healthy(); }, 5000));
  auto stub = v1::EnrollmentService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials()));
  std::vector<v1::ParticipantEvent> events = History(150, 0);
  ReferenceModel model;
  for (const auto& e : events) model.Apply(e);
  IngestAll(stub.get(), events, 100);
  ExpectExact(*admin, model);
}

// Debian 12's hiredis (0.14) cannot speak TLS, so TLS to Redis goes through a local TLS tunnel
// (stunnel in client mode, as a sidecar would): the services talk plaintext on loopback, the
// tunnel verifies Redis' certificate and encrypts to its tls-port; Redis' plain port is off.
TEST_F(FaultsTest, RedisOverTlsThroughATunnel) {
  char pattern[] = "/tmp/uhc-redis-tls-XXXXXX";
  std::string dir = mkdtemp(pattern);
  std::string make =
      "cd " + dir +
      " && openssl req -x509 -newkey rsa:2048 -nodes -keyout redis.key "
      "-out redis.crt -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
      ">/dev/null 2>&1";
  ASSERT_EQ(std::system(make.c_str()), 0);
  int tls_port = FreePort();
  redis_ = std::make_unique<RedisServer>(std::vector<std::string>{
      "--tls-port", std::to_string(tls_port), "--tls-cert-file", dir + "/redis.crt",
      "--tls-key-file", dir + "/redis.key", "--tls-ca-cert-file", dir + "/redis.crt",
      "--tls-auth-clients", "no"});
  // The plaintext port stays on for the test's own checks; the service only uses the tunnel.
  int tunnel_port = FreePort();
  std::ofstream(dir + "/stunnel.conf")
      << "foreground = yes\npid =\n[redis]\nclient = yes\naccept = 127.0.0.1:" << tunnel_port
      << "\nconnect = 127.0.0.1:" << tls_port << "\nverifyPeer = yes\nCAfile = " << dir
      << "/redis.crt\n";
  Process tunnel({"/usr/bin/stunnel4", dir + "/stunnel.conf"}, {}, dir + "/stunnel.log");
  ASSERT_TRUE(WaitFor(
      [&] {
        RedisOptions o;
        o.port = tunnel_port;
        auto c = RedisConnection::Connect(o);
        if (!c.ok()) return false;
        auto pong = (*c)->Command({"PING"});
        return pong.ok() && ReplyStatus(pong->get()).ok();
      },
      10000))
      << "stunnel did not come up";

  EnrollmentServerOptions options = Options();
  options.server.metrics_port = -1;
  options.redis = RedisOptions();
  options.redis.port = tunnel_port;
  auto server = EnrollmentServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(WaitFor([&] { return (*server)->redis_healthy(); }, 5000));
  auto stub = v1::EnrollmentService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials()));
  std::vector<v1::ParticipantEvent> events = History(300, 0);
  ReferenceModel model;
  for (const auto& e : events) model.Apply(e);
  IngestAll(stub.get(), events, 100);
  auto redis = redis_->Connect();
  ExpectExact(*redis, model);
  // The TLS port refuses a plaintext client.
  RedisOptions plain;
  plain.port = tls_port;
  plain.command_timeout = absl::Seconds(1);
  auto raw = RedisConnection::Connect(plain);
  bool refused = !raw.ok() || !(*raw)->Command({"PING"}).ok();
  EXPECT_TRUE(refused);
  server->reset();
  tunnel.Stop(SIGTERM);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace uhc::testing
