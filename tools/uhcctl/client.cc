#include "tools/uhcctl/client.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "common/domain/text.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace uhc::cli {
namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

}  // namespace

Option EnrollmentAddressOption() {
  return {"enrollment", "HOST:PORT", "enrollment-svc address (env UHC_ENROLLMENT_ADDR)",
          EnvOr("UHC_ENROLLMENT_ADDR", "127.0.0.1:50051")};
}

Option ClassifierAddressOption() {
  return {"classifier", "HOST:PORT", "classifier-svc address (env UHC_CLASSIFIER_ADDR)",
          EnvOr("UHC_CLASSIFIER_ADDR", "127.0.0.1:50052")};
}

std::string ReadFileOrEmpty(const char* env) {
  const char* path = std::getenv(env);
  if (path == nullptr) return "";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::shared_ptr<grpc::Channel> Connect(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (std::getenv("UHC_TLS_CA") != nullptr) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFileOrEmpty("UHC_TLS_CA");
    ssl.pem_cert_chain = ReadFileOrEmpty("UHC_TLS_CERT");
    ssl.pem_private_key = ReadFileOrEmpty("UHC_TLS_KEY");
    credentials = grpc::SslCredentials(ssl);
  }
  return grpc::CreateCustomChannel(address, credentials, args);
}

void Authenticate(grpc::ClientContext* context) {
  if (const char* token = std::getenv("UHC_TOKEN"); token != nullptr && *token != '\0') {
    context->AddMetadata("authorization", std::string("Bearer ") + token);
  }
}

namespace {
// A request field named in a server's error, as the flag or argument a person typed in `cmd`.
std::string FlagOf(const Command& cmd, const std::string& field) {
  static const std::map<std::string, std::string> kFlags = {
      {"region_code", "REGION"},
      {"province_code", "--province"},
      {"policy_id", "--policy"},
      {"target_tier", "--target"},
      {"tier", "--tier"},
      {"level", "--level"},
      {"page_size", "--page-size"},
      {"as_of_date", "--as-of"},
      {"as_of", "--as-of"},
      {"from_date", "--from"},
      {"to_date", "--to"},
      {"interval", "--interval"},
      {"effective_date", "--effective"},
      {"dues_paid_through", "--dues-paid-through"},
      {"description", "--description"}};
  // `uhcctl cutoff create ID` names the cut-off it makes; tier, tiers and awards read one.
  if (field == "cutoff_id") return cmd.Declares("cutoff") ? "--cutoff" : "ID";
  auto it = kFlags.find(field);
  return it == kFlags.end() ? field : it->second;
}
}  // namespace

int ReportRpcError(const Command& cmd, const grpc::Status& status) {
  std::string message = status.error_message();
  google::rpc::Status details;
  if (!status.error_details().empty() && details.ParseFromString(status.error_details())) {
    for (const auto& any : details.details()) {
      google::rpc::BadRequest bad;
      if (any.UnpackTo(&bad) && bad.field_violations_size() > 0) {
        message.clear();
        for (const auto& v : bad.field_violations()) {
          message +=
              (message.empty() ? "" : "; ") + FlagOf(cmd, v.field()) + ": " + v.description();
        }
      }
    }
  }
  bool bad_input = status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                   status.error_code() == grpc::StatusCode::NOT_FOUND;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    const std::string flag = cmd.Declares("classifier") ? "--classifier" : "--enrollment";
    message += " (is the service running? see " + flag + ")";
  }
  // A server's message can quote what others stored (a cut-off's id): printed escaped.
  cmd.UsageError(Printable(message));
  return bad_input ? kExitUsage : kExitFailure;
}

std::chrono::system_clock::time_point Deadline(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

}  // namespace uhc::cli
