// TLS, mutual TLS and per-call bearer tokens with roles, on a real enrollment-svc and Redis.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "classifier-svc/classifier_server.h"
#include "common/domain/identity.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"
#include "tests/support/process.h"

namespace uhc::testing {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI.
class Certificates {
 public:
  Certificates() {
    char pattern[] = "/tmp/uhc-certs-XXXXXX";
    dir = mkdtemp(pattern);
    std::string d = dir;
    std::string script = "set -e; cd " + d +
                         "; exec >/dev/null 2>&1;"
                         "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
                         "-days 2 -subj /CN=uhc-test-ca;"
                         "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
                         "-subj /CN=127.0.0.1;"
                         "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost' > san.ext;"
                         "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
                         "-CAcreateserial -out server.crt -days 2 -extfile san.ext;"
                         "openssl req -newkey rsa:2048 -nodes -keyout server2.key -out server2.csr "
                         "-subj /CN=127.0.0.1/O=rotated;"
                         "openssl x509 -req -in server2.csr -CA ca.crt -CAkey ca.key "
                         "-CAcreateserial -out server2.crt -days 3 -extfile san.ext;"
                         "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
                         "-subj /CN=bpjs-backend;"
                         "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key "
                         "-CAcreateserial -out client.crt -days 2";
    ok = std::system(script.c_str()) == 0;
  }
  ~Certificates() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string dir;
  bool ok = false;
};

constexpr char kIngestToken[] = "ingest-token-0123456789";
constexpr char kReadToken[] = "read-token-0123456789ab";
constexpr char kAdminToken[] = "admin-token-0123456789a";

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = std::make_unique<RedisServer>();
    ASSERT_TRUE(certs_.ok);
    std::ofstream(certs_.dir + "/tokens") << "# roles token\ningest " << kIngestToken << "\nread "
                                          << kReadToken << "\nadmin,read " << kAdminToken << "\n";
  }

  // A server that has seen Redis answer: until then it refuses batches with UNAVAILABLE ("redis
  // unreachable; retry"), which a loaded machine can make last past a test's first call.
  absl::StatusOr<std::unique_ptr<EnrollmentServer>> Start(bool tls, bool mutual, bool tokens) {
    absl::StatusOr<std::unique_ptr<EnrollmentServer>> server =
        EnrollmentServer::Start(Options(tls, mutual, tokens));
    if (server.ok() && !WaitFor([&] { return (*server)->redis_healthy(); }, 20000)) {
      return absl::DeadlineExceededError("enrollment-svc did not see Redis within 20 s");
    }
    return server;
  }

  EnrollmentServerOptions Options(bool tls, bool mutual, bool tokens) {
    EnrollmentServerOptions options;
    options.server.listen_address = "127.0.0.1:0";
    options.server.metrics_port = -1;
    options.server.plaintext = !tls;
    if (tls) {
      options.server.tls_cert_file = certs_.dir + "/server.crt";
      options.server.tls_key_file = certs_.dir + "/server.key";
    }
    if (mutual) options.server.tls_client_ca_file = certs_.dir + "/ca.crt";
    if (tokens) options.token_file = certs_.dir + "/tokens";
    options.redis = redis_->options();
    options.data_dir = UHC_SOURCE_DIR "/data";
    options.hmac_secret = kTestSecret;
    return options;
  }

  std::shared_ptr<grpc::Channel> Channel(int port, bool tls, bool client_cert) {
    std::string target = "127.0.0.1:" + std::to_string(port);
    if (!tls) return grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read(certs_.dir + "/ca.crt");
    if (client_cert) {
      ssl.pem_private_key = Read(certs_.dir + "/client.key");
      ssl.pem_cert_chain = Read(certs_.dir + "/client.crt");
    }
    return grpc::CreateChannel(target, grpc::SslCredentials(ssl));
  }

  static grpc::Status Ingest(grpc::Channel* channel, const std::string& token) {
    auto stub =
        v1::EnrollmentService::NewStub(std::shared_ptr<grpc::Channel>(channel, [](auto*) {}));
    v1::IngestEventsRequest request;
    *request.add_events() = Enrolled("s1", TestNik(1), "12.19", kBaseTime, v1::SEGMENT_PPU, true);
    v1::IngestEventsResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    return stub->IngestBatch(&context, request, &response);
  }

  std::unique_ptr<RedisServer> redis_;
  Certificates certs_;
};

TEST_F(SecurityTest, RefusesToServePlaintextUnlessAskedTo) {
  EnrollmentServerOptions options;
  options.server.listen_address = "127.0.0.1:0";
  options.server.metrics_port = -1;
  options.redis = redis_->options();
  options.data_dir = UHC_SOURCE_DIR "/data";
  options.hmac_secret = kTestSecret;
  auto server = EnrollmentServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("--plaintext"), absl::string_view::npos);
}

TEST_F(SecurityTest, TokensAndRoles) {
  auto server = Start(false, false, true);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = Channel((*server)->port(), false, false);
  EXPECT_EQ(Ingest(channel.get(), "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Ingest(channel.get(), "wrong-token-0123456789").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Ingest(channel.get(), kReadToken).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Ingest(channel.get(), kIngestToken).ok());

  auto admin = v1::RegionAdminService::NewStub(channel);
  v1::SetPopulationRequest population;
  population.set_region_code("12.19");
  population.set_population(100);
  population.set_as_of_date("2025-12-31");
  v1::RegionSettings settings;
  grpc::ClientContext c1, c2;
  c1.AddMetadata("authorization", std::string("Bearer ") + kIngestToken);
  EXPECT_EQ(admin->SetPopulation(&c1, population, &settings).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  c2.AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
  EXPECT_TRUE(admin->SetPopulation(&c2, population, &settings).ok());

  // Cut-offs: admin to create, read to list.
  v1::CreateCutoffRequest create;
  create.set_cutoff_id("round-1");
  create.set_as_of_date("2025-12-31");
  v1::Cutoff cutoff;
  grpc::ClientContext c5, c6, c7, c8;
  c5.AddMetadata("authorization", std::string("Bearer ") + kReadToken);
  EXPECT_EQ(admin->CreateCutoff(&c5, create, &cutoff).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  c6.AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
  EXPECT_TRUE(admin->CreateCutoff(&c6, create, &cutoff).ok());
  v1::ListCutoffsResponse cutoffs;
  c7.AddMetadata("authorization", std::string("Bearer ") + kIngestToken);
  EXPECT_EQ(admin->ListCutoffs(&c7, v1::ListCutoffsRequest(), &cutoffs).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  c8.AddMetadata("authorization", std::string("Bearer ") + kReadToken);
  ASSERT_TRUE(admin->ListCutoffs(&c8, v1::ListCutoffsRequest(), &cutoffs).ok());
  EXPECT_EQ(cutoffs.cutoffs_size(), 1);

  // The stream is checked when it opens.
  auto enrollment = v1::EnrollmentService::NewStub(channel);
  grpc::ClientContext c3;
  auto stream = enrollment->IngestEvents(&c3);
  v1::IngestEventsResponse ack;
  EXPECT_FALSE(stream->Read(&ack));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // Health stays open.
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("liveness");
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext c4;
  EXPECT_TRUE(health->Check(&c4, request, &response).ok());
}

TEST_F(SecurityTest, TlsAndMutualTls) {
  auto tls = Start(true, false, false);
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(Ingest(Channel((*tls)->port(), true, false).get(), "").ok());
  EXPECT_EQ(Ingest(Channel((*tls)->port(), false, false).get(), "").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  tls->reset();

  auto mutual = Start(true, true, false);
  ASSERT_TRUE(mutual.ok()) << mutual.status();
  EXPECT_NE(Ingest(Channel((*mutual)->port(), true, false).get(), "").error_code(),
            grpc::StatusCode::OK);
  EXPECT_TRUE(Ingest(Channel((*mutual)->port(), true, true).get(), "").ok());
}

// Kubelet gRPC probes cannot speak TLS: a plaintext listener serves health alone, and follows
// readiness (Redis) like the TLS port does.
TEST_F(SecurityTest, PlaintextHealthListenerServesHealthOnly) {
  EnrollmentServerOptions options = Options(/*tls=*/true, /*mutual=*/false, /*tokens=*/false);
  options.server.health_listen_address = "127.0.0.1:0";
  auto server = EnrollmentServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const int health_port = (*server)->health_port();
  ASSERT_NE(health_port, 0);
  const std::string address = "127.0.0.1:" + std::to_string(health_port);
  EXPECT_TRUE(WaitServing(address, 10000));
  EXPECT_TRUE(WaitServing(address, 10000, "liveness"));
  // The services are not there in plaintext.
  auto plain = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  EXPECT_EQ(Ingest(plain.get(), "").error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(Ingest(Channel((*server)->port(), true, false).get(), "").ok());

  // Redis gone: readiness drops on the health listener too; liveness stays.
  redis_->Stop(/*kill=*/true);
  auto health = grpc::health::v1::Health::NewStub(plain);
  auto status_of = [&](const std::string& service) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    return health->Check(&context, request, &response).ok()
               ? response.status()
               : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  };
  EXPECT_TRUE(WaitFor(
      [&] { return status_of("") == grpc::health::v1::HealthCheckResponse::NOT_SERVING; }, 10000));
  EXPECT_EQ(status_of("liveness"), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(SecurityTest, ClassifierNeedsTheReadRole) {
  ClassifierServerOptions options;
  options.server.listen_address = "127.0.0.1:0";
  options.server.metrics_port = -1;
  options.server.tls_cert_file = certs_.dir + "/server.crt";
  options.server.tls_key_file = certs_.dir + "/server.key";
  options.redis = redis_->options();
  options.data_dir = UHC_SOURCE_DIR "/data";
  options.policy_dir = UHC_SOURCE_DIR "/config/policies";
  options.token_file = certs_.dir + "/tokens";
  auto server = ClassifierServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::ClassifierService::NewStub(Channel((*server)->port(), true, false));
  auto get = [&](const std::string& token) {
    v1::GetRegionTierRequest request;
    request.set_region_code("12.19");
    v1::RegionTier tier;
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    return stub->GetRegionTier(&context, request, &tier).error_code();
  };
  EXPECT_EQ(get(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(get(kIngestToken), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(get(kReadToken), grpc::StatusCode::OK);
  EXPECT_EQ(get(kAdminToken), grpc::StatusCode::OK);  // "admin,read"
  grpc::ClientContext context;
  v1::WatchTierChangesRequest watch;
  auto reader = stub->WatchTierChanges(&context, watch);
  v1::WatchTierChangesResponse message;
  EXPECT_FALSE(reader->Read(&message));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SecurityTest, UhcctlSpeaksTlsAndSendsTheToken) {
  auto server = Start(true, true, true);
  ASSERT_TRUE(server.ok()) << server.status();
  auto run = [&](const std::string& token) {
    std::string command = "UHC_ENROLLMENT_ADDR=127.0.0.1:" + std::to_string((*server)->port()) +
                          " UHC_TLS_CA=" + certs_.dir + "/ca.crt UHC_TLS_CERT=" + certs_.dir +
                          "/client.crt UHC_TLS_KEY=" + certs_.dir +
                          "/client.key UHC_TOKEN=" + token +
                          " " UHC_UHCCTL " region-status 12.19 --uhc-prioritas >/dev/null 2>&1";
    int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(run(kAdminToken), 0);
  EXPECT_EQ(run(kReadToken), 1);  // PERMISSION_DENIED
  EXPECT_EQ(run(""), 1);          // UNAUTHENTICATED
}

// The NIK key cannot change silently: its fingerprint is kept in uhc:meta with the data, and a
// service with another key refuses to start on that data (naming the reason); short and
// placeholder keys are refused before anything is read. Data written before fingerprints were
// kept (uhc:meta with bucket_bits alone) gets the first key's fingerprint.
TEST_F(SecurityTest, AnotherNikKeyIsRefusedOnTheDataOfTheFirst) {
  {
    auto server = Start(false, false, false);
    ASSERT_TRUE(server.ok()) << server.status();
    auto channel = Channel((*server)->port(), false, false);
    ASSERT_TRUE(Ingest(channel.get(), "").ok());
  }
  auto redis = redis_->Connect();
  auto stored = redis->Command({"HGET", kMetaKey, kMetaNikKey});
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ((*stored)->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string((*stored)->str, (*stored)->len),
            NikKeyer::Create(kTestSecret, 8)->Fingerprint());

  EnrollmentServerOptions other = Options(false, false, false);
  other.hmac_secret = "another-key-0123456789abcdef-0123456789";
  auto refused = EnrollmentServer::Start(other);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("NIK HMAC secret"), absl::string_view::npos);
  EXPECT_EQ(refused.status().message().find(other.hmac_secret), absl::string_view::npos);

  for (const std::string& secret :
       {std::string("REPLACE_ME_WITH_32_RANDOM_BYTES"), std::string("sixteen-bytes-ok")}) {
    EnrollmentServerOptions bad = Options(false, false, false);
    bad.hmac_secret = secret;
    auto server = EnrollmentServer::Start(bad);
    ASSERT_FALSE(server.ok()) << secret;
    EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << server.status();
  }

  // Data from before fingerprints: the first key to start records its own.
  ASSERT_TRUE(redis->Command({"HDEL", kMetaKey, kMetaNikKey}).ok());
  auto adopted = EnrollmentServer::Start(other);
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  stored = redis->Command({"HGET", kMetaKey, kMetaNikKey});
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(std::string((*stored)->str, (*stored)->len),
            NikKeyer::Create(other.hmac_secret, 8)->Fingerprint());
}

// A Redis that may evict (an allkeys-* or volatile-* policy) would drop participants silently:
// enrollment-svc writes nothing there, answers FAILED_PRECONDITION naming the setting, and counts
// it; once the setting is fixed, ingest resumes without a restart. Settings that cost memory or
// durability (no AOF) are counted but not refused.
TEST_F(SecurityTest, AnEvictionPolicyRefusesWritesNamingTheSettingUntilFixed) {
  auto redis = redis_->Connect();
  ASSERT_TRUE(redis->Command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"}).ok());
  auto server = EnrollmentServer::Start(Options(false, false, false));
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = Channel((*server)->port(), false, false);
  // Until the first probe ends, batches are UNAVAILABLE ("not reached yet").
  grpc::Status s;
  ASSERT_TRUE(WaitFor(
      [&] {
        s = Ingest(channel.get(), "");
        return s.error_code() != grpc::StatusCode::UNAVAILABLE;
      },
      20000));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("maxmemory-policy allkeys-lru"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(redis->Command({"DBSIZE"}).value()->integer, 1);  // uhc:meta only
  const std::string metrics = (*server)->metrics().Render();
  EXPECT_NE(metrics.find("uhc_redis_setting_ok{setting=\"maxmemory-policy\"} 0"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("uhc_redis_setting_ok{setting=\"appendonly\"} 0"), std::string::npos);
  // Why the pod is not ready is a metric too.
  EXPECT_NE(metrics.find("uhc_redis_refused 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("uhc_ready 0"), std::string::npos) << metrics;
  // The per-RPC series count the refusal by its code.
  EXPECT_NE(metrics.find("uhc_rpc_requests_total{code=\"FAILED_PRECONDITION\",method=\"uhc.v1."
                         "EnrollmentService/IngestBatch\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("uhc_redis_setting_ok{setting=\"hash-max-listpack-entries\"} 1"),
            std::string::npos);

  ASSERT_TRUE(redis->Command({"CONFIG", "SET", "maxmemory-policy", "noeviction"}).ok());
  ASSERT_TRUE(WaitFor([&] { return (*server)->redis_healthy(); }, 20000));
  EXPECT_TRUE(Ingest(channel.get(), "").ok());
  const std::string fixed = (*server)->metrics().Render();
  EXPECT_NE(fixed.find("uhc_redis_setting_ok{setting=\"maxmemory-policy\"} 1"), std::string::npos);
  EXPECT_NE(fixed.find("uhc_redis_refused 0"), std::string::npos);
  EXPECT_NE(fixed.find("uhc_ready 1"), std::string::npos);
}

// A rollback onto data a later release wrote: both services refuse to start, saying which layout
// they need.
TEST_F(SecurityTest, BothServicesRefuseDataOfANewerLayout) {
  auto redis = redis_->Connect();
  ASSERT_TRUE(
      redis->Command({"HSET", kMetaKey, kMetaLayout, std::to_string(kDataLayout + 1)}).ok());
  ClassifierServerOptions options;
  options.server.listen_address = "127.0.0.1:0";
  options.server.metrics_port = -1;
  options.server.plaintext = true;
  options.redis = redis_->options();
  options.data_dir = UHC_SOURCE_DIR "/data";
  options.policy_dir = UHC_SOURCE_DIR "/config/policies";
  auto classifier = ClassifierServer::Start(options);
  ASSERT_FALSE(classifier.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(classifier.status())) << classifier.status();
  EXPECT_NE(classifier.status().message().find(
                absl::StrCat("this release needs data of layout ", kDataLayout)),
            absl::string_view::npos)
      << classifier.status();
  auto enrollment = EnrollmentServer::Start(Options(false, false, false));
  ASSERT_FALSE(enrollment.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(enrollment.status())) << enrollment.status();
}

// A rotated certificate and token file (a Kubernetes Secret updated in place) are used without a
// restart: new connections get the new certificate, the new token is accepted and the old one
// refused; the certificate's expiry is exported.
TEST_F(SecurityTest, CertificateAndTokensAreReloadedWithoutARestart) {
  EnrollmentServerOptions options = Options(/*tls=*/true, /*mutual=*/false, /*tokens=*/true);
  options.server.tls_reload_interval = absl::Seconds(1);
  auto server = EnrollmentServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(WaitFor([&] { return (*server)->redis_healthy(); }, 20000));
  // The certificate a new connection is served, as PEM.
  int nonce = 0;
  auto served = [&] {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read(certs_.dir + "/ca.crt");
    grpc::ChannelArguments args;
    args.SetInt("uhc.test.nonce", ++nonce);  // a connection of its own
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string((*server)->port()),
                                             grpc::SslCredentials(ssl), args);
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    if (!health->Check(&context, request, &response).ok()) return std::string();
    auto pem = context.auth_context()->FindPropertyValues("x509_pem_cert");
    return pem.empty() ? std::string() : std::string(pem.front().data(), pem.front().size());
  };
  const std::string first = Read(certs_.dir + "/server.crt");
  const std::string second = Read(certs_.dir + "/server2.crt");
  ASSERT_EQ(served(), first);
  auto channel = [&] { return Channel((*server)->port(), true, false); };
  EXPECT_TRUE(Ingest(channel().get(), kIngestToken).ok());
  EXPECT_NE((*server)->metrics().Render().find("uhc_tls_certificate_expiry_timestamp_seconds "),
            std::string::npos);

  // The Secret is swapped: files replaced by rename, as the kubelet does.
  const std::string d = certs_.dir;
  std::filesystem::copy_file(d + "/server2.key", d + "/server.key.new");
  std::filesystem::copy_file(d + "/server2.crt", d + "/server.crt.new");
  std::filesystem::rename(d + "/server.key.new", d + "/server.key");
  std::filesystem::rename(d + "/server.crt.new", d + "/server.crt");
  const std::string rotated = "ingest rotated-ingest-token-0123456789\n";
  std::ofstream(d + "/tokens.new") << rotated;
  std::filesystem::rename(d + "/tokens.new", d + "/tokens");

  EXPECT_TRUE(WaitFor([&] { return served() == second; }, 10000))
      << "the rotated certificate was never served";
  EXPECT_TRUE(WaitFor(
      [&] { return Ingest(channel().get(), "rotated-ingest-token-0123456789").ok(); }, 10000));
  EXPECT_EQ(Ingest(channel().get(), kIngestToken).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A broken file keeps the tokens before it.
  std::ofstream(d + "/tokens.new") << "nonsense\n";
  std::filesystem::rename(d + "/tokens.new", d + "/tokens");
  // Nothing to await when nothing may change: past the once-a-second look, the old tokens hold.
  absl::SleepFor(absl::Milliseconds(1100));
  EXPECT_TRUE(Ingest(channel().get(), "rotated-ingest-token-0123456789").ok());
}

}  // namespace
}  // namespace uhc::testing
