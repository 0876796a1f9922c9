#pragma once

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "tools/uhcctl/cli.h"
#include "uhc/v1/classifier.grpc.pb.h"
#include "uhc/v1/enrollment.grpc.pb.h"

namespace uhc::cli {

// Address options every client subcommand takes.
Option EnrollmentAddressOption();
Option ClassifierAddressOption();

// A channel to `address`: TLS when UHC_TLS_CA names a CA file (mutual TLS when UHC_TLS_CERT and
// UHC_TLS_KEY name a client certificate and key), plaintext otherwise.
std::shared_ptr<grpc::Channel> Connect(const std::string& address);

// Adds "authorization: Bearer $UHC_TOKEN" to a call when UHC_TOKEN is set.
void Authenticate(grpc::ClientContext* context);

// Prints "uhcctl <cmd>: <message>" for a failed call (with BadRequest field violations when
// present) and returns the exit code: 2 for bad input (INVALID_ARGUMENT, NOT_FOUND), else 1.
int ReportRpcError(const Command& cmd, const grpc::Status& status);

// A deadline `seconds` from now.
std::chrono::system_clock::time_point Deadline(int seconds);

// protobuf JSON with field names as in the .proto, defaults printed.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace uhc::cli
