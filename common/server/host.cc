#include "common/server/host.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/flags/reflection.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/observability/log.h"
#include "common/server/rpc_metrics.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/server_builder.h"

namespace uhc {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

constexpr char kLiveness[] = "liveness";

// The certificate's notAfter in Unix seconds, or nullopt if the file holds no certificate.
std::optional<int64_t> CertificateExpiry(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return std::nullopt;
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (cert == nullptr) return std::nullopt;
  std::optional<int64_t> out;
  struct tm when {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &when) == 1) out = timegm(&when);
  X509_free(cert);
  return out;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void ApplyEnvironmentToFlags() {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    std::string env = "UHC_";
    for (char c : name)
      env.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    if (const char* value = std::getenv(env.c_str()); value != nullptr) {
      std::string error;
      if (!flag->ParseFrom(value, &error)) {
        LogError("bad environment variable", {{"variable", env}, {"error", error}});
        std::exit(2);
      }
    }
  }
}

ServerHost::ServerHost(ServerConfig config, MetricsRegistry* metrics)
    : config_(std::move(config)), metrics_(metrics) {}

ServerHost::~ServerHost() {
  Shutdown([] {});
}

void ServerHost::AddService(grpc::Service* service, std::string name) {
  services_.emplace_back(service, std::move(name));
}

namespace {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerConfig& config) {
  if (config.tls_cert_file.empty()) {
    if (!config.plaintext) {
      return absl::FailedPreconditionError(
          "no TLS certificate: pass --tls_cert and --tls_key, or --plaintext explicitly");
    }
    return grpc::InsecureServerCredentials();
  }
  auto read = [](const std::string& path, std::string* out) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    *out = text.str();
    return static_cast<bool>(in) && !out->empty();
  };
  // Read once here so a missing file stops the start with a clear error; from then on gRPC's
  // file watcher reads them every tls_reload_interval (a Kubernetes Secret is swapped in place).
  std::string text;
  if (!read(config.tls_cert_file, &text) || !read(config.tls_key_file, &text)) {
    return absl::NotFoundError("cannot read the TLS certificate or key file");
  }
  if (!config.tls_client_ca_file.empty() && !read(config.tls_client_ca_file, &text)) {
    return absl::NotFoundError("cannot read the TLS client CA file");
  }
  const int64_t seconds = absl::ToInt64Seconds(config.tls_reload_interval);
  if (seconds < 1 || seconds > 86400) {
    return absl::InvalidArgumentError("--tls_reload_seconds must be 1..86400");
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.tls_key_file, config.tls_cert_file, config.tls_client_ca_file,
      static_cast<unsigned int>(seconds));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!config.tls_client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace

absl::Status ServerHost::Start() {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = Credentials(config_);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  // The built-in health service is not built on protobuf, so its descriptors are only in the
  // pool that reflection serves when our generated health.proto is linked in: touching it does
  // that (else `ghz --call grpc.health.v1.Health.Check` fails with "Symbol not found").
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen_address, *credentials, &port_);
  builder.SetMaxReceiveMessageSize(config_.max_message_bytes);
  builder.SetMaxSendMessageSize(config_.max_message_bytes);
  // Clients re-resolve (and rebalance over new pods) when a connection ages out.
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config_.max_connection_age)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(config_.drain_timeout)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  for (auto& [service, name] : services_) builder.RegisterService(service);
  if (metrics_ != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(MakeRpcMetrics(metrics_));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config_.listen_address));
  }
  server_->GetHealthCheckService()->SetServingStatus(kLiveness, true);
  if (!config_.tls_cert_file.empty() && metrics_ != nullptr) {
    expiry_thread_ = std::thread([this] { WatchCertificateExpiry(); });
  }
  if (!config_.health_listen_address.empty()) {
    // Its own server: the services themselves are never reachable without TLS through it.
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(config_.health_listen_address,
                                    grpc::InsecureServerCredentials(), &health_port_);
    health_server_ = health_builder.BuildAndStart();
    if (health_server_ == nullptr || health_port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", config_.health_listen_address));
    }
    health_server_->GetHealthCheckService()->SetServingStatus(kLiveness, true);
  }
  SetReady(false);
  if (config_.metrics_port >= 0 && metrics_ != nullptr) {
    metrics_http_ = std::make_unique<MetricsHttpServer>(metrics_);
    if (absl::Status s = metrics_http_->Start(config_.metrics_host, config_.metrics_port);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

int ServerHost::metrics_port() const { return metrics_http_ ? metrics_http_->port() : -1; }

void ServerHost::SetReady(bool ready) {
  std::lock_guard<std::mutex> lock(ready_mu_);
  if (ready && shut_down_) return;
  if (metrics_ != nullptr) {
    metrics_
        ->AddGauge("uhc_ready",
                   "1 while the service reports ready (SERVING), 0 while not: why is in "
                   "uhc_redis_refused, uhc_redis_node_up and uhc_snapshot_age_seconds.")
        ->Set(ready ? 1 : 0);
  }
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr) continue;
    auto* health = server->GetHealthCheckService();
    health->SetServingStatus("", ready);
    for (const auto& [service, name] : services_) health->SetServingStatus(name, ready);
  }
}

void ServerHost::WatchCertificateExpiry() {
  Gauge* gauge = metrics_->AddGauge(
      "uhc_tls_certificate_expiry_timestamp_seconds",
      "When the served TLS certificate (--tls_cert, read again every --tls_reload_seconds) "
      "expires, Unix seconds.");
  std::unique_lock<std::mutex> lock(expiry_mu_);
  while (!expiry_stop_) {
    if (std::optional<int64_t> expiry = CertificateExpiry(config_.tls_cert_file)) {
      gauge->Set(static_cast<double>(*expiry));
    } else {
      LogError("cannot read the TLS certificate's expiry", {{"file", config_.tls_cert_file}});
    }
    expiry_cv_.wait_for(lock, absl::ToChronoMilliseconds(config_.tls_reload_interval),
                        [this] { return expiry_stop_; });
  }
}

void ServerHost::Shutdown(const std::function<void()>& drain) {
  {
    std::lock_guard<std::mutex> lock(expiry_mu_);
    expiry_stop_ = true;
  }
  expiry_cv_.notify_all();
  if (expiry_thread_.joinable()) expiry_thread_.join();
  {
    std::lock_guard<std::mutex> lock(ready_mu_);
    if (shut_down_ || server_ == nullptr) return;
    shut_down_ = true;
  }
  SetReady(false);
  drain();
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(config_.drain_timeout));
  if (health_server_) health_server_->Shutdown(std::chrono::system_clock::now());
  if (metrics_http_) metrics_http_->Stop();
}

void ServerHost::WaitForTermination() {
  sigset_t set = TerminationSignals();
  int signal = 0;
  sigwait(&set, &signal);
  LogInfo("termination signal received", {{"signal", signal}});
}

}  // namespace uhc
