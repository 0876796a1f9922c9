// Cut-offs under failure and hostile input: CreateCutoff when Redis refuses writes (OOM), a
// retry over what an earlier release left half-made, concurrent creators of one id, cut-off ids
// and descriptions of every size and byte, and uhcctl printing what is stored.
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "classifier-svc/classifier_server.h"
#include "common/config/files.h"
#include "common/redis/history.h"
#include "tests/integration/classifier_options.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"
#include "uhc/v1/classifier.grpc.pb.h"

namespace uhc {
extern const char kCutoffCreateLua[];  // common/redis/cutoff_create.lua, embedded at build
}  // namespace uhc

namespace uhc::testing {
namespace {

constexpr char kPolicy[] = "uhc-awards-2026";
constexpr char kDay[] = "2025-03-01";

class CutoffTest : public EnrollmentFixture {
 protected:
  void SetUp() override {
    EnrollmentFixture::SetUp();
    auto server = ClassifierServer::Start(TestClassifierOptions(*redis_));
    ASSERT_TRUE(server.ok()) << server.status();
    classifier_server_ = *std::move(server);
    classifier_ = v1::ClassifierService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(classifier_server_->port()),
                            grpc::InsecureChannelCredentials()));
    registry_ = std::make_unique<RegionRegistry>(*LoadRegions(UHC_SOURCE_DIR "/data"));
    // Two participants of 12.19 before kDay, so that a cut-off has figures to get right.
    for (int i = 0; i < 2; ++i) {
      ASSERT_EQ(IngestOne(Enrolled("e" + std::to_string(i), TestNik(i), "12.19", kBaseTime + i,
                                   v1::SEGMENT_PBI_APBN, true)),
                v1::EVENT_OUTCOME_APPLIED);
    }
    redis_client_ = MakeRedisClient(redis_->options());
  }
  void TearDown() override {
    classifier_.reset();
    classifier_server_.reset();
    EnrollmentFixture::TearDown();
  }

  grpc::Status Create(const std::string& id, const std::string& date, v1::Cutoff* out,
                      const std::string& description = "") {
    v1::CreateCutoffRequest request;
    request.set_cutoff_id(id);
    request.set_as_of_date(date);
    request.set_description(description);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return admin_->CreateCutoff(&context, request, out);
  }

  grpc::Status Get(const std::string& cutoff, v1::RegionTier* out) {
    v1::GetRegionTierRequest request;
    request.set_region_code("12.19");
    request.set_policy_id(kPolicy);
    request.set_cutoff_id(cutoff);
    grpc::ClientContext context;
    return classifier_->GetRegionTier(&context, request, out);
  }

  grpc::Status List(const std::string& cutoff) {
    v1::ListRegionTiersRequest request;
    request.set_policy_id(kPolicy);
    request.set_cutoff_id(cutoff);
    v1::ListRegionTiersResponse out;
    grpc::ClientContext context;
    return classifier_->ListRegionTiers(&context, request, &out);
  }

  std::vector<v1::Cutoff> Listed() {
    grpc::ClientContext context;
    v1::ListCutoffsResponse list;
    EXPECT_TRUE(admin_->ListCutoffs(&context, v1::ListCutoffsRequest(), &list).ok());
    return {list.cutoffs().begin(), list.cutoffs().end()};
  }

  int64_t Integer(const std::vector<std::string>& argv) {
    auto c = redis_->Connect();
    std::vector<absl::string_view> args(argv.begin(), argv.end());
    absl::StatusOr<ReplyPtr> reply = c->Command(args);
    EXPECT_TRUE(reply.ok());
    return reply.ok() ? (*reply)->integer : -1;
  }

  void Command(const std::vector<std::string>& argv) {
    auto c = redis_->Connect();
    std::vector<absl::string_view> args(argv.begin(), argv.end());
    absl::StatusOr<ReplyPtr> reply = c->Command(args);
    ASSERT_TRUE(reply.ok());
    ASSERT_EQ(ReplyStatus(reply->get()), absl::OkStatus());
  }

  // maxmemory `margin` bytes above what Redis uses now (noeviction). A cut-off's figures are
  // about 65 KB (every region).
  void FillMemory(int64_t margin) {
    auto c = redis_->Connect();
    absl::StatusOr<ReplyPtr> info = c->Command({"INFO", "memory"});
    ASSERT_TRUE(info.ok());
    const std::string text((*info)->str, (*info)->len);
    const size_t at = text.find("used_memory:");
    ASSERT_NE(at, std::string::npos);
    const int64_t used = std::stoll(text.substr(at + 12));
    Command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
    Command({"CONFIG", "SET", "maxmemory", std::to_string(used + margin)});
  }

  // A Cutoff record as CreateCutoff writes it.
  std::string Record(const std::string& id, const std::string& date,
                     const std::string& description = "") {
    v1::Cutoff c;
    c.set_cutoff_id(id);
    c.set_as_of_date(date);
    c.set_description(description);
    c.mutable_create_time()->set_seconds(kBaseTime);
    c.set_regions(552);
    return c.SerializeAsString();
  }

  std::unique_ptr<ClassifierServer> classifier_server_;
  std::unique_ptr<v1::ClassifierService::Stub> classifier_;
  std::unique_ptr<RegionRegistry> registry_;
  std::unique_ptr<RedisClient> redis_client_;
};

// maxmemory from just above what Redis uses to past what a cut-off needs: at every margin a
// create is refused whole (nothing listed) or made whole, and a retry after memory is freed makes
// every refused one whole. (Before the fix, margins of 24-32 KB listed the cut-off without its
// figures and the retry answered OK over it.)
// ListCutoffs pages oldest first without gaps or repeats, also when a cut-off is made between
// two pages; GetCutoff answers each as listed, and NOT_FOUND for an id never made.
TEST_F(CutoffTest, ListCutoffsPagesAndGetCutoffAnswersEachListed) {
  v1::Cutoff made;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Create(absl::StrCat("page-", i), kDay, &made).ok());
  }
  std::vector<std::string> paged;
  v1::ListCutoffsRequest request;
  request.set_page_size(2);
  int pages = 0;
  do {
    v1::ListCutoffsResponse page;
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->ListCutoffs(&context, request, &page).ok());
    EXPECT_LE(page.cutoffs_size(), 2);
    for (const v1::Cutoff& c : page.cutoffs()) paged.push_back(c.cutoff_id());
    if (++pages == 1) {
      ASSERT_TRUE(Create("page-late", kDay, &made).ok());  // the newest: listed last
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty() && pages < 10);
  std::vector<std::string> listed;
  for (const v1::Cutoff& c : Listed()) {
    listed.push_back(c.cutoff_id());
    v1::GetCutoffRequest get;
    get.set_cutoff_id(c.cutoff_id());
    v1::Cutoff one;
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->GetCutoff(&context, get, &one).ok());
    EXPECT_EQ(one.SerializeAsString(), c.SerializeAsString());
  }
  EXPECT_EQ(paged, listed);
  EXPECT_EQ(listed.size(), 6u);
  v1::GetCutoffRequest get;
  get.set_cutoff_id("never-made");
  v1::Cutoff none;
  grpc::ClientContext context;
  EXPECT_EQ(admin_->GetCutoff(&context, get, &none).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(CutoffTest, UnderOomACreateIsWholeOrNothingAndTheRetryMakesItWhole) {
  std::vector<std::string> refused;
  for (int64_t margin = 4 * 1024; margin <= 96 * 1024; margin += 4 * 1024) {
    const std::string id = "oom-" + std::to_string(margin);
    FillMemory(margin);
    v1::Cutoff cutoff;
    grpc::Status s = Create(id, kDay, &cutoff);
    Command({"CONFIG", "SET", "maxmemory", "0"});
    const int64_t listed = Integer({"HEXISTS", CutoffIndexKey(), id});
    const int64_t figures = Integer({"EXISTS", CutoffDataKey(id)});
    if (s.ok()) {
      EXPECT_EQ(listed + figures, 2) << "margin " << margin;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
      EXPECT_EQ(listed, 0) << "margin " << margin << " listed without its figures";
      refused.push_back(id);
    }
  }
  EXPECT_FALSE(refused.empty());  // the sweep reached a refusal
  for (const std::string& id : refused) {
    v1::Cutoff cutoff;
    grpc::Status s = Create(id, kDay, &cutoff);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::RegionTier tier;
    s = Get(id, &tier);
    ASSERT_TRUE(s.ok()) << id << ": " << s.error_message();
    EXPECT_EQ(tier.metrics().participants(), 2);
  }
}

// The same through FreezeCutoff; and a Redis that lost its script cache.
TEST_F(CutoffTest, FreezeUnderOomWritesNothing) {
  std::vector<std::string> codes;
  for (const Region* r : registry_->all()) {
    if (r->level != RegionLevel::kNation) codes.push_back(r->code);
  }
  v1::Cutoff meta;
  meta.set_as_of_date(kDay);
  for (int64_t margin = 4 * 1024; margin <= 96 * 1024; margin += 4 * 1024) {
    meta.set_cutoff_id("oom-" + std::to_string(margin));
    FillMemory(margin);
    absl::StatusOr<v1::Cutoff> made = FreezeCutoff(*redis_client_, meta, codes);
    Command({"CONFIG", "SET", "maxmemory", "0"});
    const int64_t listed = Integer({"HEXISTS", CutoffIndexKey(), meta.cutoff_id()});
    const int64_t figures = Integer({"EXISTS", CutoffDataKey(meta.cutoff_id())});
    if (made.ok()) {
      EXPECT_EQ(listed + figures, 2) << "margin " << margin;
    } else {
      EXPECT_EQ(made.status().code(), absl::StatusCode::kResourceExhausted) << made.status();
      EXPECT_EQ(listed + figures, 0) << "margin " << margin;
      made = FreezeCutoff(*redis_client_, meta, codes);
      ASSERT_TRUE(made.ok()) << made.status();
    }
    absl::StatusOr<FrozenCutoff> read = ReadCutoff(*redis_client_, meta.cutoff_id());
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->figures.size(), codes.size());
    EXPECT_EQ(read->figures.at("12.19").counts.Participants(), 2);
  }
  Command({"SCRIPT", "FLUSH"});
  meta.set_cutoff_id("after-flush");
  EXPECT_TRUE(FreezeCutoff(*redis_client_, meta, codes).ok());
  EXPECT_TRUE(ReadCutoff(*redis_client_, "after-flush").ok());
}

// An earlier release could leave an index entry without its figures: listed, unreadable.
TEST_F(CutoffTest, ARetryCompletesACutoffListedWithoutItsFigures) {
  Command({"HSET", CutoffIndexKey(), "half", Record("half", kDay, "round 1")});
  v1::RegionTier tier;
  grpc::Status s = Get("half", &tier);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("completes it"), std::string::npos) << s.error_message();

  v1::Cutoff cutoff;
  EXPECT_EQ(Create("half", "2025-02-01", &cutoff).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Integer({"EXISTS", CutoffDataKey("half")}), 0);
  s = Create("half", kDay, &cutoff);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(cutoff.description(), "round 1");  // the entry stands as it was
  s = Get("half", &tier);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(tier.metrics().participants(), 2);
  EXPECT_EQ(tier.as_of_date(), kDay);
}

// The script completes only the entry its caller checked: an entry without figures written
// after the check (by a previous release, maybe of another date) is left as it is, never given
// this create's figures.
TEST_F(CutoffTest, TheScriptCompletesOnlyTheEntryItsCallerChecked) {
  const std::string other = Record("raced", "2025-02-01", "written after the check");
  Command({"HSET", CutoffIndexKey(), "raced", other});
  auto reply = redis_client_->Command({"EVAL", kCutoffCreateLua, "2", CutoffIndexKey(),
                                       CutoffDataKey("raced"), "raced",
                                       Record("raced", kDay, "mine"), "F1figures", ""});
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ((*reply)->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string((*reply)->str, (*reply)->len), other);
  EXPECT_EQ(Integer({"EXISTS", CutoffDataKey("raced")}), 0);
  // With the entry it checked, it completes it.
  reply = redis_client_->Command({"EVAL", kCutoffCreateLua, "2", CutoffIndexKey(),
                                  CutoffDataKey("raced"), "raced", other, "F1figures", other});
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(Integer({"EXISTS", CutoffDataKey("raced")}), 1);
}

// Figures without an index entry were never visible (an earlier release wrote them, then failed
// on the entry), maybe for another date: a create replaces them.
TEST_F(CutoffTest, FiguresWithoutAnIndexEntryAreReplaced) {
  Command({"SET", CutoffDataKey("orphan"), "F1stale"});
  v1::Cutoff cutoff;
  grpc::Status s = Create("orphan", kDay, &cutoff);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::RegionTier tier;
  s = Get("orphan", &tier);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(tier.metrics().participants(), 2);
}

TEST_F(CutoffTest, ConcurrentCreatorsOfOneIdAgreeOnOneDate) {
  const std::vector<std::string> dates = {kDay, "2024-12-01"};
  std::vector<grpc::Status> results(8);
  std::vector<v1::Cutoff> made(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { results[i] = Create("race", dates[i % 2], &made[i]); });
  }
  for (std::thread& t : threads) t.join();
  const std::vector<v1::Cutoff> listed = Listed();
  ASSERT_EQ(listed.size(), 1u);
  for (int i = 0; i < 8; ++i) {
    if (dates[i % 2] == listed[0].as_of_date()) {
      EXPECT_TRUE(results[i].ok()) << results[i].error_message();
      EXPECT_EQ(made[i].create_time().seconds(), listed[0].create_time().seconds());
    } else {
      EXPECT_EQ(results[i].error_code(), grpc::StatusCode::ALREADY_EXISTS);
    }
  }
  v1::RegionTier tier;
  ASSERT_TRUE(Get("race", &tier).ok());
  EXPECT_EQ(tier.metrics().participants(), listed[0].as_of_date() == kDay ? 2 : 0);
}

// cutoff_id is checked as CreateCutoff checks it, and never echoed whole.
TEST_F(CutoffTest, ReadsCheckTheCutoffIdWithoutEchoingIt) {
  for (const std::string& id :
       {std::string(4096, 'a'), std::string(100 * 1024, 'a'), std::string(65, 'a'),
        std::string("Bad Id"), std::string("x\x1b[2J"), std::string("../index")}) {
    v1::RegionTier tier;
    for (const grpc::Status& s : {Get(id, &tier), List(id)}) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << id.size() << " bytes: " << s.error_message().substr(0, 100);
      EXPECT_NE(s.error_message().find("cutoff_id"), std::string::npos);
      EXPECT_LT(s.error_message().size(), 200u);
    }
  }
  v1::RegionTier tier;
  grpc::Status s = Get("no-such-cutoff", &tier);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("uhcctl cutoff list"), std::string::npos) << s.error_message();
}

TEST_F(CutoffTest, DescriptionsWithControlCharactersAreRefused) {
  for (const std::string& description :
       {std::string("\x1b]0;pwned\x07"), std::string("ok\x1b[2J"), std::string("tab\there"),
        std::string("abc\xE2\x80\xAE"
                    "fdp"),
        std::string("\xC2\x9B"
                    "2J")}) {
    v1::Cutoff cutoff;
    grpc::Status s = Create("ctl", kDay, &cutoff, description);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find("description"), std::string::npos) << s.error_message();
  }
  EXPECT_TRUE(Listed().empty());
  v1::Cutoff cutoff;
  grpc::Status s = Create("ctl", kDay, &cutoff, "UHC Awards 2026 \xE2\x80\x94 putaran 1");
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// What an earlier release stored is printed escaped: nothing reaches the terminal raw.
TEST_F(CutoffTest, UhcctlPrintsStoredTextEscaped) {
  Command({"HSET", CutoffIndexKey(), "old",
           Record("old", kDay,
                  "\x1b]0;pwned\x07\x1b[2Jround\xE2\x80\xAE"
                  "1")});
  const std::string command = std::string(UHC_UHCCTL " cutoff list --enrollment 127.0.0.1:") +
                              std::to_string(server_->port());
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  ASSERT_EQ(pclose(pipe), 0) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
  EXPECT_NE(out.find("\\x1b]0;pwned\\x07\\x1b[2Jround\\u202e1"), std::string::npos) << out;
}

}  // namespace
}  // namespace uhc::testing
