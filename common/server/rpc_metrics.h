#pragma once

// Per-RPC request counts by status code and latency, for every method a server serves (a gRPC
// server interceptor, so no RPC can skip it):
//   uhc_rpc_requests_total{method="uhc.v1.ClassifierService/GetRegionTier", code="OK"}
//   uhc_rpc_duration_seconds{method=...}  (histogram; a stream's whole life for streaming RPCs)
// DEPLOY.md's SLOs and the burn-rate alerts of deploy/observability are written on them.

#include <memory>

#include "common/observability/metrics.h"
#include "grpcpp/support/server_interceptor.h"

namespace uhc {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcMetrics(
    MetricsRegistry* metrics);

}  // namespace uhc
