#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/observability/metrics.h"
#include "grpcpp/server.h"

namespace uhc {

// Settings every server of the project shares (set from flags in each main).
struct ServerConfig {
  std::string listen_address = "127.0.0.1:0";
  std::string metrics_host = "127.0.0.1";
  int metrics_port = 0;  // -1 disables /metrics
  int max_message_bytes = 64 << 20;
  absl::Duration max_connection_age = absl::Minutes(5);
  absl::Duration drain_timeout = absl::Seconds(10);
  // TLS: certificate chain and key (PEM); with a client CA, clients must present a certificate
  // it signed (mutual TLS). Without a certificate the server refuses to start unless
  // `plaintext` is set explicitly (the local run and tests on loopback).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // The files above are read again this often (gRPC's FileWatcherCertificateProvider): a rotated
  // Secret takes effect on new connections without a restart. The certificate's expiry is
  // exported as uhc_tls_certificate_expiry_timestamp_seconds, read as often.
  absl::Duration tls_reload_interval = absl::Seconds(60);
  bool plaintext = false;
  // A second, plaintext listener serving only grpc.health.v1 (readiness and liveness as on the
  // main port), for kubelet gRPC probes, which cannot speak TLS. Empty: none.
  std::string health_listen_address;
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread it later creates, so that
// WaitForTermination receives them with sigwait. Call first thing in main.
void BlockTerminationSignals();

// Applies environment variables UHC_<FLAG_NAME> (upper case) to flags not given on the command
// line: call before absl::ParseCommandLine (the command line wins).
void ApplyEnvironmentToFlags();

// One gRPC server with the project's plumbing: health (readiness under the service names and "",
// liveness always SERVING under "liveness"), reflection, keepalive and max connection age, and a
// Prometheus /metrics endpoint. Services are not owned and must outlive the host.
class ServerHost {
 public:
  // `metrics` gets the per-RPC series (common/server/rpc_metrics.h) and is served on /metrics.
  ServerHost(ServerConfig config, MetricsRegistry* metrics);
  ~ServerHost();

  void AddService(grpc::Service* service, std::string name);
  absl::Status Start();
  int port() const { return port_; }
  int health_port() const { return health_port_; }  // 0 without a health listener
  int metrics_port() const;

  // Readiness: SERVING only while the service can do its job (e.g. Redis reachable). Once
  // Shutdown began, never SERVING again: a Redis that comes back during the drain (its health
  // callback calls SetReady(true)) must not draw traffic to a server going away.
  void SetReady(bool ready);

  // The shutdown sequence: readiness NOT_SERVING, `drain` (e.g. stop accepting new batches),
  // Shutdown with the drain deadline (in-flight RPCs finish, the rest are cancelled), metrics
  // endpoint stopped. Idempotent.
  void Shutdown(const std::function<void()>& drain);

  // Blocks until SIGTERM or SIGINT.
  static void WaitForTermination();

 private:
  ServerConfig config_;
  MetricsRegistry* metrics_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;  // health only, plaintext
  int health_port_ = 0;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  // Reads the certificate's expiry into its gauge every tls_reload_interval (TLS only).
  void WatchCertificateExpiry();
  std::thread expiry_thread_;
  std::mutex expiry_mu_;
  std::condition_variable expiry_cv_;
  bool expiry_stop_ = false;
  int port_ = 0;
  std::mutex ready_mu_;     // orders SetReady against the start of Shutdown
  bool shut_down_ = false;  // guarded by ready_mu_
};

}  // namespace uhc
