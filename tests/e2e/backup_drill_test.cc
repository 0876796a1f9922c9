// The restore drill of docs/RUNBOOK.md, through real processes: redis-server, enrollment-svc,
// classifier-svc, uhcctl and uhc-backup. A dataset is loaded (dated admin inputs, two years of
// events over four regions, tier changes recorded as they happen, a cut-off); what people read
// (`uhcctl summary`, `cutoff list`, the cut-off's award list, `history`) is kept; then
//  1. an RDB taken over the network (`redis-cli --rdb`, what the backup CronJob does) is restored
//     into a new Redis after the old one and its files are destroyed;
//  2. the logical export (`uhc-backup export`) is imported into an empty Redis Cluster of three
//     primaries (another shard count), the events are replayed there shuffled, and only then is
//     classifier-svc started;
// and in both the same commands print the same bytes.
#include <openssl/sha.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/config/files.h"
#include "common/redis/schema.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/events.h"
#include "tests/support/process.h"
#include "tests/support/redis_cluster.h"
#include "tests/support/redis_server.h"
#include "tools/backup/backup.h"
#include "uhc/v1/classifier.grpc.pb.h"
#include "uhc/v1/enrollment.grpc.pb.h"

namespace uhc::testing {
namespace {

constexpr char kSecret[] = "drill-secret-0123456789abcdef-0123456";
const std::vector<std::string> kRegions = {"12.19", "12.71", "32.01", "51.71"};

std::string Address(int port) { return absl::StrCat("127.0.0.1:", port); }

// Runs a command line; returns its exit code, stdout and stderr in *out.
int Shell(const std::string& command, std::string* out) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  out->clear();
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out->append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The services of one stack, on one Redis (standalone or cluster).
class Stack {
 public:
  Stack(const std::string& dir, const RedisOptions& redis) : dir_(dir), redis_(redis) {}

  void StartEnrollment() {
    enrollment_port_ = FreePort();
    std::vector<std::string> argv = {UHC_ENROLLMENT_SVC,
                                     "--listen",
                                     Address(enrollment_port_),
                                     "--plaintext",
                                     "--metrics_port",
                                     "-1",
                                     "--redis_port",
                                     std::to_string(redis_.port),
                                     "--data_dir",
                                     UHC_SOURCE_DIR "/data",
                                     "--bucket_bits",
                                     "4",
                                     "--drain_seconds",
                                     "1"};
    if (redis_.cluster) argv.push_back("--redis_cluster");
    enrollment_ = std::make_unique<Process>(
        argv, std::vector<std::string>{std::string("UHC_NIK_HMAC_SECRET=") + kSecret},
        dir_ + "/enrollment.log");
    ASSERT_TRUE(WaitServing(Address(enrollment_port_), 30000));
    auto channel =
        grpc::CreateChannel(Address(enrollment_port_), grpc::InsecureChannelCredentials());
    ingest_ = v1::EnrollmentService::NewStub(channel);
  }

  void StartClassifier() {
    classifier_port_ = FreePort();
    std::vector<std::string> argv = {UHC_CLASSIFIER_SVC,
                                     "--listen",
                                     Address(classifier_port_),
                                     "--plaintext",
                                     "--metrics_port",
                                     "-1",
                                     "--redis_port",
                                     std::to_string(redis_.port),
                                     "--data_dir",
                                     UHC_SOURCE_DIR "/data",
                                     "--policy_dir",
                                     UHC_SOURCE_DIR "/config/policies",
                                     "--drain_seconds",
                                     "1"};
    if (redis_.cluster) argv.push_back("--redis_cluster");
    classifier_ =
        std::make_unique<Process>(argv, std::vector<std::string>{}, dir_ + "/classifier.log");
    ASSERT_TRUE(WaitServing(Address(classifier_port_), 30000));
    classifier_stub_ = v1::ClassifierService::NewStub(
        grpc::CreateChannel(Address(classifier_port_), grpc::InsecureChannelCredentials()));
  }

  void Stop() {
    if (classifier_) classifier_->Stop(SIGTERM);
    if (enrollment_) enrollment_->Stop(SIGTERM);
    classifier_.reset();
    enrollment_.reset();
  }

  void Ingest(const std::vector<v1::ParticipantEvent>& events) {
    for (size_t start = 0; start < events.size(); start += 500) {
      v1::IngestEventsRequest request;
      for (size_t i = start; i < std::min(events.size(), start + 500); ++i) {
        *request.add_events() = events[i];
      }
      v1::IngestEventsResponse response;
      grpc::ClientContext context;
      grpc::Status s = ingest_->IngestBatch(&context, request, &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }

  // Waits until the classifier shows, for every region, the participants (and with `population`
  // the population) Redis holds.
  void WaitClassifierCaughtUp(bool population = false) {
    std::unique_ptr<RedisClient> redis = MakeRedisClient(redis_);
    for (const std::string& code : kRegions) {
      auto reply = redis->Command({"HGETALL", AggregateKey(code)});
      ASSERT_TRUE(reply.ok());
      const RegionCounts counts = ParseAggregate(reply->get()).counts;
      const int64_t participants = counts.Participants();
      ASSERT_TRUE(WaitFor(
          [&] {
            v1::GetRegionTierRequest request;
            request.set_region_code(code);
            v1::RegionTier tier;
            grpc::ClientContext context;
            return classifier_stub_->GetRegionTier(&context, request, &tier).ok() &&
                   tier.metrics().participants() == participants &&
                   (!population || tier.metrics().population() == counts.population);
          },
          10000))
          << code << " never showed " << participants << " participants";
    }
  }

  // uhcctl against this stack.
  int Uhcctl(const std::string& args, std::string* out) const {
    return Shell(
        absl::StrCat("UHC_ENROLLMENT_ADDR=", Address(enrollment_port_),
                     " UHC_CLASSIFIER_ADDR=", Address(classifier_port_),
                     " UHC_POLICY_DIR=" UHC_SOURCE_DIR "/config/policies " UHC_UHCCTL " ", args),
        out);
  }

  // What people read, command by command.
  std::map<std::string, std::string> Readings() const {
    std::map<std::string, std::string> out;
    std::vector<std::string> commands = {"summary", "cutoff list",
                                         "awards --policy uhc-awards-2026 --cutoff drill-1",
                                         "tiers 12 --cutoff drill-1 --format csv"};
    for (const std::string& code : kRegions) commands.push_back("history " + code);
    for (const std::string& command : commands) {
      std::string text;
      EXPECT_EQ(Uhcctl(command, &text), 0) << command << ": " << text;
      out[command] = text;
    }
    return out;
  }

 private:
  std::string dir_;
  RedisOptions redis_;
  int enrollment_port_ = 0;
  int classifier_port_ = 0;
  std::unique_ptr<Process> enrollment_;
  std::unique_ptr<Process> classifier_;
  std::unique_ptr<v1::EnrollmentService::Stub> ingest_;
  std::unique_ptr<v1::ClassifierService::Stub> classifier_stub_;
};

class BackupDrillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/uhc-drill-XXXXXX";
    dir_ = mkdtemp(pattern);
  }
  void TearDown() override {
    std::error_code ec;
    if (HasFailure()) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_, ec)) {
        if (entry.path().extension() != ".log") continue;
        std::ifstream log(entry.path());
        std::cerr << "--- " << entry.path() << "\n" << log.rdbuf() << "\n";
      }
    }
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

void ExpectSameReadings(const std::map<std::string, std::string>& before,
                        const std::map<std::string, std::string>& after, const char* how) {
  for (const auto& [command, text] : before) {
    auto it = after.find(command);
    ASSERT_NE(it, after.end());
    EXPECT_EQ(it->second, text) << how << ": `uhcctl " << command << "` differs";
  }
}

// `path`, an export of format version 2, rewritten as version 1 wrote it: Cutoff.created_at and
// TierChange.changed_at, version 1, and a trailer that matches.
void RewriteAsVersion1(const std::string& path) {
  std::ifstream in(path);
  std::stringstream whole;
  whole << in.rdbuf();
  std::string text = whole.str();
  const size_t trailer = text.rfind("{\"trailer\"");
  ASSERT_NE(trailer, std::string::npos);
  std::string body = text.substr(0, trailer);
  ASSERT_NE(body.find("\"create_time\":"), std::string::npos) << "a cut-off to rename";
  ASSERT_NE(body.find("\"change_time\":"), std::string::npos) << "a tier change to rename";
  ASSERT_NE(body.find("\"version\":2"), std::string::npos);
  body = absl::StrReplaceAll(body, {{"\"create_time\":", "\"created_at\":"},
                                    {"\"change_time\":", "\"changed_at\":"},
                                    {"\"version\":2", "\"version\":1"}});
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  std::string hex;
  for (unsigned char b : digest) absl::StrAppend(&hex, absl::Hex(b, absl::kZeroPad2));
  const int64_t records = std::count(body.begin(), body.end(), '\n');
  std::ofstream(path, std::ios::trunc)
      << body << "{\"trailer\":{\"records\":\"" << records << "\",\"sha256\":\"" << hex << "\"}}\n";
}

TEST_F(BackupDrillTest, RdbAndExportRestoreWhatPeopleReadByteForByte) {
  // ---- The dataset, on a standalone Redis like production's (AOF, the module).
  auto source = std::make_unique<RedisServer>(WithApplyModule({"--appendonly", "yes"}));
  mkdir((dir_ + "/source").c_str(), 0700);
  Stack stack(dir_ + "/source", source->options());
  ASSERT_NO_FATAL_FAILURE(stack.StartEnrollment());
  ASSERT_NO_FATAL_FAILURE(stack.StartClassifier());
  std::string out;
  {
    std::ofstream(dir_ + "/pop-2024.csv")
        << "region_code,population\n12.19,405\n12.71,406\n32.01,404\n51.71,408\n";
    std::ofstream(dir_ + "/pop-2025.csv")
        << "region_code,population\n12.19,500\n12.71,505\n32.01,510\n51.71,515\n";
  }
  ASSERT_EQ(stack.Uhcctl("population import " + dir_ + "/pop-2024.csv --as-of 2024-12-31", &out), 0)
      << out;
  for (const std::string& code : kRegions) {
    ASSERT_EQ(stack.Uhcctl("region-status " + code +
                               " --uhc-prioritas --dues-paid-through 2025-03 --effective "
                               "2025-01-01",
                           &out),
              0)
        << out;
  }
  // Per region: 400 people enrolled in February 2025 (a tier on the 2024 figure), 95 more in
  // August (a tier on the 2025 figure); beside them a random two-month history of 2,000 people
  // in four other regions (moves, terminations, re-enrolments).
  constexpr int64_t kDay = 86400;
  std::vector<v1::ParticipantEvent> first, second;
  for (size_t r = 0; r < kRegions.size(); ++r) {
    for (int64_t i = 0; i < 495; ++i) {
      const int64_t n = 100000 + static_cast<int64_t>(r) * 1000 + i;
      auto& phase = i < 400 ? first : second;
      phase.push_back(Enrolled(absl::StrCat("d", n), TestNik(n), kRegions[r],
                               kBaseTime + (i < 400 ? 40 : 220) * kDay + i, v1::SEGMENT_PBPU_PEMDA,
                               true));
    }
  }
  for (const v1::ParticipantEvent& e :
       GenerateHistory({"11.01", "13.71", "33.74", "73.71"}, 2000, 6000, /*seed=*/2026)) {
    first.push_back(e);
  }
  ASSERT_NO_FATAL_FAILURE(stack.Ingest(first));
  ASSERT_NO_FATAL_FAILURE(stack.WaitClassifierCaughtUp());
  // Later inputs: a new population figure (the regions fall below their tier), a status change,
  // then the rest of the events.
  ASSERT_EQ(stack.Uhcctl("population import " + dir_ + "/pop-2025.csv --as-of 2025-06-30", &out), 0)
      << out;
  ASSERT_EQ(stack.Uhcctl("region-status 32.01 --no-uhc-prioritas --dues-paid-through 2025-09 "
                         "--effective 2025-07-01",
                         &out),
            0)
      << out;
  ASSERT_NO_FATAL_FAILURE(stack.WaitClassifierCaughtUp(/*population=*/true));
  ASSERT_NO_FATAL_FAILURE(stack.Ingest(second));
  ASSERT_NO_FATAL_FAILURE(stack.WaitClassifierCaughtUp());
  std::vector<v1::ParticipantEvent> events = first;
  events.insert(events.end(), second.begin(), second.end());
  ASSERT_EQ(stack.Uhcctl("cutoff create drill-1 --as-of 2025-06-30 --description 'Drill'", &out), 0)
      << out;
  const std::map<std::string, std::string> before = stack.Readings();
  int changes = 0;
  for (const std::string& code : kRegions) {
    const std::string& history = before.at("history " + code);
    changes += static_cast<int>(std::count(history.begin(), history.end(), '\n'));
  }
  ASSERT_GT(changes, static_cast<int>(kRegions.size()) * 2)
      << "the dataset made few tier changes:\n"
      << before.at("summary") << before.at("history 12.19");

  // ---- Backups: an RDB over the network, and the logical export.
  const std::string rdb = dir_ + "/backup.rdb";
  // No 5 s wait for more replicas before the snapshot is streamed (repl-diskless-sync-delay).
  ASSERT_TRUE(source->Connect()->Command({"CONFIG", "SET", "repl-diskless-sync-delay", "0"}).ok());
  ASSERT_EQ(Shell(absl::StrCat("redis-cli -p ", source->port(), " --rdb ", rdb), &out), 0) << out;
  const std::string exported = dir_ + "/export.jsonl";
  ASSERT_EQ(Shell(absl::StrCat(UHC_BACKUP " export --redis_port ", source->port(),
                               " --data_dir " UHC_SOURCE_DIR "/data --out ", exported),
                  &out),
            0)
      << out;
  EXPECT_NE(out.find("exported 4 regions' inputs, 1 cut-offs"), std::string::npos) << out;

  // ---- Disaster: the services, Redis and every file of it are gone.
  stack.Stop();
  source.reset();

  // ---- 1. Restore the RDB into a new Redis, AOF switched on after the load.
  {
    const std::string data = dir_ + "/restored";
    mkdir(data.c_str(), 0700);
    std::filesystem::copy_file(rdb, data + "/dump.rdb");
    RedisServer restored(WithApplyModule({"--dir", data, "--dbfilename", "dump.rdb"}));
    auto c = restored.Connect();
    ASSERT_TRUE(c->Command({"CONFIG", "SET", "appendonly", "yes"}).ok());
    mkdir((dir_ + "/rdb").c_str(), 0700);
    Stack again(dir_ + "/rdb", restored.options());
    ASSERT_NO_FATAL_FAILURE(again.StartEnrollment());
    ASSERT_NO_FATAL_FAILURE(again.StartClassifier());
    ASSERT_NO_FATAL_FAILURE(again.WaitClassifierCaughtUp());
    ExpectSameReadings(before, again.Readings(), "restored from the RDB");
    again.Stop();
  }

  // ---- 2. Import the export into an empty cluster of three primaries, replay the events
  // shuffled, then start the classifier. The file imported is the export as format version 1
  // wrote it (the field names before docs/API.md's renames): old backups restore exactly too.
  {
    ASSERT_NO_FATAL_FAILURE(RewriteAsVersion1(exported));
    RedisClusterNodes cluster;
    const RedisOptions options = cluster.options();
    ASSERT_EQ(Shell(absl::StrCat(UHC_BACKUP " import --redis_cluster --redis_port ", options.port,
                                 " --data_dir " UHC_SOURCE_DIR "/data ", exported),
                    &out),
              0)
        << out;
    // A second import is refused: the target is no longer empty.
    EXPECT_EQ(Shell(absl::StrCat(UHC_BACKUP " import --redis_cluster --redis_port ", options.port,
                                 " --data_dir " UHC_SOURCE_DIR "/data ", exported),
                    &out),
              2)
        << out;
    EXPECT_NE(out.find("already holds"), std::string::npos) << out;
    mkdir((dir_ + "/cluster").c_str(), 0700);
    Stack again(dir_ + "/cluster", options);
    ASSERT_NO_FATAL_FAILURE(again.StartEnrollment());
    std::vector<v1::ParticipantEvent> replay = events;
    std::shuffle(replay.begin(), replay.end(), std::mt19937(7));
    ASSERT_NO_FATAL_FAILURE(again.Ingest(replay));
    ASSERT_NO_FATAL_FAILURE(again.StartClassifier());
    ASSERT_NO_FATAL_FAILURE(again.WaitClassifierCaughtUp());
    ExpectSameReadings(before, again.Readings(), "exported and imported into a cluster");
    again.Stop();
  }
}

// The import checks everything before its first write: a damaged or foreign file, or a target
// that is not empty or holds another NIK key, changes nothing.
TEST(BackupImportTest, RefusesDamagedFilesAndForeignTargetsWritingNothing) {
  const RegionRegistry regions = *LoadRegions(UHC_SOURCE_DIR "/data");
  RedisServer source;
  auto src = MakeRedisClient(source.options());
  ASSERT_TRUE(src->Pipeline({{"HSET", kMetaKey, kMetaNikKey, "aaaa", kMetaBucketBits, "4"},
                             {"HSET", "uhc:{12.19}:settings", "p2025-01-01", "100"},
                             {"HSET", "uhc:{12.19}:agg", "pop", "100", "pop_asof", "2025-01-01"}})
                  .ok());
  std::ostringstream text;
  ASSERT_TRUE(backup::Export(*src, regions, absl::Now(), text).ok());
  const std::string good = text.str();

  RedisServer target;
  auto dst = MakeRedisClient(target.options());
  auto keys = [&] {
    auto r = dst->Command({"DBSIZE"});
    return r.ok() ? (*r)->integer : -1;
  };
  std::string edited = good;
  edited.replace(edited.find("\"100\""), 5, "\"900\"");
  std::string cut = good.substr(0, good.rfind("{\"trailer"));
  std::string newer = good;
  newer.replace(newer.find("\"version\":2"), 11, "\"version\":9");
  for (const std::string& bad : {edited, cut, std::string("{}\n"), newer}) {
    absl::StatusOr<backup::Counts> r = backup::Import(*dst, regions, bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  }
  EXPECT_EQ(keys(), 0);
  // Another NIK key in the target.
  ASSERT_TRUE(dst->Command({"HSET", kMetaKey, kMetaNikKey, "bbbb"}).ok());
  absl::StatusOr<backup::Counts> r = backup::Import(*dst, regions, good);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("another NIK key"), std::string::npos) << r.status();
  EXPECT_EQ(keys(), 1);
  {
    // Re-keying into a new keyspace: the export's key is neither checked nor recorded.
    RedisServer rekeyed;
    auto fresh = MakeRedisClient(rekeyed.options());
    ASSERT_TRUE(fresh->Command({"HSET", kMetaKey, kMetaNikKey, "bbbb"}).ok());
    ASSERT_TRUE(backup::Import(*fresh, regions, good, /*rekey=*/true).ok());
    auto kept = fresh->Command({"HGET", kMetaKey, kMetaNikKey});
    ASSERT_TRUE(kept.ok());
    EXPECT_EQ(std::string((*kept)->str, (*kept)->len), "bbbb");
  }
  // The same key: imported once, then refused.
  ASSERT_TRUE(dst->Command({"HSET", kMetaKey, kMetaNikKey, "aaaa"}).ok());
  r = backup::Import(*dst, regions, good);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->regions, 1);
  auto pop = dst->Command({"HGET", "uhc:{12.19}:settings", "p2025-01-01"});
  ASSERT_TRUE(pop.ok());
  EXPECT_EQ(std::string((*pop)->str, (*pop)->len), "100");
  r = backup::Import(*dst, regions, good);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
}

}  // namespace
}  // namespace uhc::testing
