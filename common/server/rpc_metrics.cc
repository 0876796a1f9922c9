#include "common/server/rpc_metrics.h"

#include <array>
#include <atomic>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"

namespace uhc {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr int kCodes = 17;  // grpc::StatusCode OK .. UNAUTHENTICATED

const char* CodeName(int code) {
  static constexpr std::array<const char*, kCodes> kNames = {"OK",
                                                             "CANCELLED",
                                                             "UNKNOWN",
                                                             "INVALID_ARGUMENT",
                                                             "DEADLINE_EXCEEDED",
                                                             "NOT_FOUND",
                                                             "ALREADY_EXISTS",
                                                             "PERMISSION_DENIED",
                                                             "RESOURCE_EXHAUSTED",
                                                             "FAILED_PRECONDITION",
                                                             "ABORTED",
                                                             "OUT_OF_RANGE",
                                                             "UNIMPLEMENTED",
                                                             "INTERNAL",
                                                             "UNAVAILABLE",
                                                             "DATA_LOSS",
                                                             "UNAUTHENTICATED"};
  return code >= 0 && code < kCodes ? kNames[code] : "UNKNOWN";
}

// One method's series, made at its first call; counters of a code at its first use.
struct MethodSeries {
  Histogram* duration = nullptr;
  std::array<std::atomic<Counter*>, kCodes> requests{};
};

class RpcMetricsFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsFactory(MetricsRegistry* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  // `method` as a label: a method of a generated service ("uhc.v1.ClassifierService/
  // GetRegionTier"), else "unknown", so a client sending made-up paths (answered UNIMPLEMENTED)
  // cannot grow the series without bound.
  static std::string Method(const char* path) {
    if (path == nullptr || path[0] != '/') return "unknown";
    std::string name(path + 1);
    const size_t slash = name.find('/');
    if (slash == std::string::npos) return "unknown";
    std::string full = name;
    full[slash] = '.';
    return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full) != nullptr
               ? name
               : "unknown";
  }

  MethodSeries* SeriesOf(const std::string& method) {
    std::lock_guard<std::mutex> lock(mu_);
    std::unique_ptr<MethodSeries>& series = by_method_[method];
    if (series == nullptr) {
      series = std::make_unique<MethodSeries>();
      series->duration = metrics_->AddHistogram(
          "uhc_rpc_duration_seconds", "Time from a call's arrival to its status, by method.",
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
          {{"method", method}});
    }
    return series.get();
  }

  Counter* RequestsOf(MethodSeries* series, const std::string& method, int code) {
    const int slot = code >= 0 && code < kCodes ? code : 2;
    Counter* counter = series->requests[slot].load(std::memory_order_acquire);
    if (counter != nullptr) return counter;
    std::lock_guard<std::mutex> lock(mu_);
    counter = metrics_->AddCounter("uhc_rpc_requests_total", "Calls ended, by method and status.",
                                   {{"method", method}, {"code", CodeName(slot)}});
    series->requests[slot].store(counter, std::memory_order_release);
    return counter;
  }

 private:
  MetricsRegistry* metrics_;
  std::mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>> by_method_;
};

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(RpcMetricsFactory* factory, std::string method)
      : factory_(factory),
        method_(std::move(method)),
        series_(factory->SeriesOf(method_)),
        start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const int code = static_cast<int>(methods->GetSendStatus().error_code());
      factory_->RequestsOf(series_, method_, code)->Increment();
      series_->duration->Observe(absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  RpcMetricsFactory* factory_;
  std::string method_;
  MethodSeries* series_;
  absl::Time start_;
};

grpc::experimental::Interceptor* RpcMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcMetricsInterceptor(this, Method(info->method()));
}

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcMetrics(
    MetricsRegistry* metrics) {
  return std::make_unique<RpcMetricsFactory>(metrics);
}

}  // namespace uhc
