// WatchTierChanges across forced connection-age cuts: a client that reconnects with its last
// resume_token receives exactly what the change log recorded, in order, once, while tiers keep
// changing during the gaps. Also: an expired token is OUT_OF_RANGE, a malformed one
// INVALID_ARGUMENT, and version-1 history is moved to the new keys.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "classifier-svc/classifier_server.h"
#include "classifier-svc/tier_log.h"
#include "gmock/gmock.h"
#include "tests/integration/classifier_options.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"
#include "tests/support/process.h"
#include "uhc/v1/classifier.grpc.pb.h"

namespace uhc::testing {
namespace {

const std::vector<std::string> kRegions = {"12.01", "12.02", "12.03", "12.19"};
constexpr char kPolicy[] = "uhc-awards-2026";

class WatchResumeTest : public EnrollmentFixture {
 protected:
  std::unique_ptr<ClassifierServer> StartClassifier(absl::Duration max_age) {
    ClassifierServerOptions options = TestClassifierOptions(*redis_);
    options.server.max_connection_age = max_age;
    options.server.drain_timeout = absl::Milliseconds(200);  // the grace after the age
    options.refresh_interval = absl::Milliseconds(40);
    options.keepalive_interval = absl::Milliseconds(300);
    auto server = ClassifierServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  // 100 active PPU participants in each test region.
  void Populate() {
    std::vector<v1::ParticipantEvent> events;
    int n = 0;
    for (const std::string& region : kRegions) {
      for (int i = 0; i < 100; ++i, ++n) {
        events.push_back(Enrolled("e" + std::to_string(n), TestNik(n), region, kBaseTime,
                                  v1::SEGMENT_PPU, true));
      }
    }
    EXPECT_EQ(Ingest(events).applied(), static_cast<int>(events.size()));
  }

  void SetPopulation(const std::string& region, int64_t population) {
    v1::SetPopulationRequest request;
    request.set_region_code(region);
    request.set_population(population);
    request.set_as_of_date("2025-06-30");
    v1::RegionSettings response;
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->SetPopulation(&context, request, &response).ok());
  }

  // Every entry of the change log, oldest first.
  std::vector<LoggedChange> WholeLog() {
    auto client = MakeRedisClient(redis_->options());
    auto entries = ReadLogAfter(*client, LogPosition{}, 1000000);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<LoggedChange>{};
  }
};

// A watcher as uhcctl runs it: reconnects at once with the last token it saw.
struct Watcher {
  std::string address;
  v1::WatchTierChangesRequest filter;
  std::vector<v1::TierChange> received;
  std::string token;
  int streams = 0;
  int replayed = 0;  // changes received on a resumed stream before its "caught up" keep-alive
  std::vector<std::string> errors;
  // A slow reconnect, so that changes happen while this watcher is away.
  absl::Duration reconnect_delay = absl::ZeroDuration();

  void Run(const std::atomic<bool>& stop) {
    auto stub = v1::ClassifierService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    while (!stop.load()) {
      v1::WatchTierChangesRequest request = filter;
      request.set_resume_token(token);
      grpc::ClientContext context;
      auto reader = stub->WatchTierChanges(&context, request);
      ++streams;
      const bool resumed = !token.empty();
      bool caught_up = !resumed;
      v1::WatchTierChangesResponse message;
      while (!stop.load() && reader->Read(&message)) {
        if (!message.resume_token().empty()) token = message.resume_token();
        if (message.has_change()) {
          received.push_back(message.change());
          if (!caught_up) ++replayed;
        } else {
          caught_up = true;  // a resumed stream's first keep-alive says the replay is done
        }
      }
      if (stop.load()) context.TryCancel();
      grpc::Status status = reader->Finish();
      if (!stop.load() && status.error_code() != grpc::StatusCode::UNAVAILABLE) {
        errors.push_back(std::to_string(status.error_code()) + " " + status.error_message());
      }
      absl::SleepFor(reconnect_delay);
    }
  }
};

TEST_F(WatchResumeTest, AWatcherAcrossConnectionAgeCutsGetsExactlyTheLog) {
  Populate();
  std::unique_ptr<ClassifierServer> classifier = StartClassifier(absl::Seconds(1));
  ASSERT_NE(classifier, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(classifier->port());

  std::atomic<bool> stop{false};
  Watcher all;
  all.address = address;
  all.reconnect_delay = absl::Milliseconds(300);
  Watcher filtered;
  filtered.address = address;
  filtered.filter.set_policy_id(kPolicy);
  filtered.filter.set_province_code("12");
  std::thread t1([&] { all.Run(stop); });
  std::thread t2([&] { filtered.Run(stop); });
  // And uhcctl watch, as an operator runs it.
  char pattern[] = "/tmp/uhc-watch-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  const std::string printed = dir + "/watch.jsonl";
  Process uhcctl(
      {"/bin/sh", "-c",
       std::string("exec " UHC_UHCCTL " watch --json --classifier ") + address + " > " + printed},
      {}, dir + "/uhcctl.log");
  // Changes start once all three streams are open: one opened later would start live and rightly
  // miss what came before (slow starts under the sanitizers showed it).
  ASSERT_TRUE(WaitFor([&] { return classifier->watch_streams() >= 3; }, 20000));

  // Tiers flip as populations swing between 100 (everyone covered) and 10,000 (1 %).
  absl::Time end = absl::Now() + absl::Seconds(6);
  for (int round = 0; absl::Now() < end; ++round) {
    const std::string& region = kRegions[round % kRegions.size()];
    SetPopulation(region, (round / kRegions.size()) % 2 == 0 ? 10'000 : 100);
    absl::SleepFor(absl::Milliseconds(25));  // pacing the load, not synchronisation
  }
  // The tiers are final once a whole refresh has run after the last change and recorded what it
  // saw: the generation moves before a refresh records, so refresh g+2 (the first to start after
  // the last change) has recorded once g+3 is reached. Then the log no longer grows.
  const int64_t after_last_change = classifier->refresher().generation() + 3;
  ASSERT_TRUE(
      WaitFor([&] { return classifier->refresher().generation() >= after_last_change; }, 10000));
  // Caught up: both watchers' last token is the log's last entry.
  std::vector<LoggedChange> log;
  ASSERT_TRUE(WaitFor(
      [&] {
        log = WholeLog();
        return !log.empty() && all.token == log.back().change.resume_token() &&
               filtered.token == log.back().change.resume_token();
      },
      15000))
      << "all at " << all.token << ", filtered at " << filtered.token;
  // uhcctl printed every change: one line each.
  auto tokens_printed = [&] {
    std::vector<std::string> tokens;
    std::ifstream in(printed);
    for (std::string line; std::getline(in, line);) {
      size_t at = line.find("\"resume_token\":\"");
      if (at == std::string::npos) continue;
      at += 16;
      tokens.push_back(line.substr(at, line.find('"', at) - at));
    }
    return tokens;
  };
  EXPECT_TRUE(WaitFor([&] { return tokens_printed().size() >= log.size(); }, 15000));
  uhcctl.Stop(SIGTERM);
  stop = true;
  classifier->Shutdown();
  t1.join();
  t2.join();

  EXPECT_THAT(all.errors, ::testing::IsEmpty());
  EXPECT_THAT(filtered.errors, ::testing::IsEmpty());
  EXPECT_GE(all.streams, 4) << "at least three connection-age cuts";
  EXPECT_GT(all.replayed, 0) << "some changes happened during the gaps and were replayed";
  ASSERT_GT(log.size(), 20u);

  std::vector<std::string> want_all, want_filtered, got_all, got_filtered;
  for (const LoggedChange& c : log) {
    want_all.push_back(c.change.resume_token());
    if (c.change.policy_id() == kPolicy) want_filtered.push_back(c.change.resume_token());
  }
  for (const v1::TierChange& c : all.received) got_all.push_back(c.resume_token());
  for (const v1::TierChange& c : filtered.received) got_filtered.push_back(c.resume_token());
  EXPECT_EQ(got_all, want_all) << "every logged change, in order, exactly once";
  EXPECT_EQ(got_filtered, want_filtered);
  EXPECT_EQ(tokens_printed(), want_all) << "uhcctl watch across the cuts";
  std::ifstream banner(dir + "/uhcctl.log");
  std::string first_line;
  std::getline(banner, first_line);
  EXPECT_THAT(first_line, ::testing::HasSubstr("watching tier changes of every region"));
  std::cout << "streams per watcher: " << all.streams
            << ", changes replayed after cuts: " << all.replayed << ", logged: " << log.size()
            << "\n";

  // ListTierChanges (the per-region history) holds the same changes.
  auto redis = MakeRedisClient(redis_->options());
  std::set<std::string> changed;  // the kab/kota, their province and the nation
  for (const LoggedChange& c : log) changed.insert(c.change.region_code());
  size_t in_history = 0;
  for (const std::string& region : changed) {
    auto history = ReadTierHistory(*redis, region, "");
    ASSERT_TRUE(history.ok());
    in_history += history->size();
  }
  EXPECT_EQ(in_history, log.size());
}

TEST_F(WatchResumeTest, ExpiredAndMalformedTokensAreClearErrors) {
  std::unique_ptr<ClassifierServer> classifier = StartClassifier(absl::Minutes(5));
  ASSERT_NE(classifier, nullptr);
  auto stub = v1::ClassifierService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(classifier->port()), grpc::InsecureChannelCredentials()));
  auto finish = [&](const std::string& token) {
    v1::WatchTierChangesRequest request;
    request.set_resume_token(token);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto reader = stub->WatchTierChanges(&context, request);
    v1::WatchTierChangesResponse message;
    while (reader->Read(&message)) {
    }
    return reader->Finish();
  };
  EXPECT_EQ(finish("nonsense").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(finish(std::string(1 << 20, 't')).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The log was trimmed up to now: a token from an hour ago has lost changes after it.
  auto redis = redis_->Connect();
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  ASSERT_TRUE(redis->Command({"SET", TierLogTrimmedKey(), std::to_string(now_ms)}).ok());
  grpc::Status expired = finish(ResumeToken({static_cast<uint64_t>(now_ms - 3600000), 0}));
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::OUT_OF_RANGE) << expired.error_message();
  EXPECT_THAT(expired.error_message(), ::testing::HasSubstr("resume window"));
}

TEST_F(WatchResumeTest, VersionOneHistoryIsMovedToTheNewKeys) {
  v1::TierChange old;
  old.set_region_code("12.19");
  old.set_policy_id(kPolicy);
  old.set_from_tier("none");
  old.set_to_tier("pratama");
  auto redis = redis_->Connect();
  ASSERT_TRUE(redis->Command({"HSET", V1TierKey("12.19"), kPolicy, "pratama"}).ok());
  ASSERT_TRUE(redis->Command({"LPUSH", V1HistoryKey("12.19"), old.SerializeAsString()}).ok());
  std::unique_ptr<ClassifierServer> classifier = StartClassifier(absl::Minutes(5));
  ASSERT_NE(classifier, nullptr);
  ASSERT_TRUE(WaitFor([&] { return classifier->refresher().generation() >= 1; }, 10000));
  auto stub = v1::ClassifierService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(classifier->port()), grpc::InsecureChannelCredentials()));
  v1::ListTierChangesRequest request;
  request.set_region_code("12.19");
  request.set_policy_id(kPolicy);
  v1::ListTierChangesResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->ListTierChanges(&context, request, &response).ok());
  ASSERT_GE(response.changes_size(), 1);
  EXPECT_EQ(response.changes(response.changes_size() - 1).to_tier(), "pratama");
  auto recorded = redis->Command({"HGET", RecordedTiersKey(), std::string("12.19|") + kPolicy});
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ((*recorded)->type, REDIS_REPLY_STRING);
}

}  // namespace
}  // namespace uhc::testing
