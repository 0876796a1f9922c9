#include "common/server/host.h"

#include <signal.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
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
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  if (!read(config.tls_cert_file, &pair.cert_chain) ||
      !read(config.tls_key_file, &pair.private_key)) {
    return absl::NotFoundError("cannot read the TLS certificate or key file");
  }
  options.pem_key_cert_pairs.push_back(pair);
  if (!config.tls_client_ca_file.empty()) {
    if (!read(config.tls_client_ca_file, &options.pem_root_certs)) {
      return absl::NotFoundError("cannot read the TLS client CA file");
    }
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
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
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr) continue;
    auto* health = server->GetHealthCheckService();
    health->SetServingStatus("", ready);
    for (const auto& [service, name] : services_) health->SetServingStatus(name, ready);
  }
}

void ServerHost::Shutdown(const std::function<void()>& drain) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
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
