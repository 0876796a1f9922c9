#include "common/server/status.h"

#include <map>
#include <string>

#include "common/domain/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

TEST(StatusTest, FieldViolationsBecomeBadRequestDetails) {
  absl::Status s = InvalidFields({{"nik", "must be 16 digits"}, {"region_code", "is required"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "nik: must be 16 digits; region_code: is required");
  ASSERT_EQ(FieldViolations(s).size(), 2u);
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), s.message());
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(g.error_details()));
  google::rpc::ErrorInfo info;
  google::rpc::BadRequest bad;
  ASSERT_EQ(details.details_size(), 2);
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "FIELD_INVALID");
  EXPECT_EQ(info.domain(), "uhc.v1");
  ASSERT_TRUE(details.details(1).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 2);
  EXPECT_EQ(bad.field_violations(1).field(), "region_code");
}

// The details of a status, by type name.
std::map<std::string, google::protobuf::Any> Details(const grpc::Status& g) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(g.error_details()));
  EXPECT_EQ(details.code(), static_cast<int>(g.error_code()));
  std::map<std::string, google::protobuf::Any> out;
  for (const google::protobuf::Any& any : details.details()) {
    out[any.type_url().substr(any.type_url().rfind('/') + 1)] = any;
  }
  return out;
}

std::string Reason(const grpc::Status& g) {
  google::rpc::ErrorInfo info;
  auto details = Details(g);
  if (!details.count("google.rpc.ErrorInfo")) return "";
  details["google.rpc.ErrorInfo"].UnpackTo(&info);
  return info.reason();
}

TEST(StatusTest, EveryErrorCarriesAReasonAndOnlyTheDetailsItsKindHas) {
  EXPECT_EQ(Reason(ToGrpcStatus(absl::UnavailableError("x"))), "STORE_UNAVAILABLE");
  EXPECT_EQ(Reason(ToGrpcStatus(ShuttingDown())), "SHUTTING_DOWN");
  EXPECT_EQ(Reason(ToGrpcStatus(Overloaded())), "OVERLOADED");
  EXPECT_EQ(Reason(ToGrpcStatus(CallerOverloaded())), "CALLER_OVERLOADED");
  EXPECT_EQ(Reason(ToGrpcStatus(DeadlinePassedInQueue())), "DEADLINE_EXCEEDED");
  EXPECT_EQ(Reason(ToGrpcStatus(absl::InternalError("x"))), "INTERNAL");
  EXPECT_EQ(Reason(ToGrpcStatus(absl::InvalidArgumentError("x"))), "REQUEST_INVALID");

  grpc::Status missing =
      ToGrpcStatus(NotFound(reason::kRegionNotFound, {"uhc.v1.Region", "99.99"}, "unknown"));
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(missing), "REGION_NOT_FOUND");
  auto details = Details(missing);
  ASSERT_EQ(details.size(), 2u);
  google::rpc::ResourceInfo resource;
  ASSERT_TRUE(details["google.rpc.ResourceInfo"].UnpackTo(&resource));
  EXPECT_EQ(resource.resource_type(), "uhc.v1.Region");
  EXPECT_EQ(resource.resource_name(), "99.99");

  // Retrying helps: a RetryInfo; it does not: none.
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(
      Details(ToGrpcStatus(absl::UnavailableError("x")))["google.rpc.RetryInfo"].UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 1);
  ASSERT_TRUE(Details(ToGrpcStatus(Overloaded()))["google.rpc.RetryInfo"].UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().nanos(), 200'000'000);
  EXPECT_EQ(Details(ToGrpcStatus(absl::InternalError("x"))).count("google.rpc.RetryInfo"), 0u);
  EXPECT_EQ(Details(ToGrpcStatus(absl::InvalidArgumentError("x"))).size(), 1u);
}

TEST(StatusTest, CodesPassThrough) {
  EXPECT_EQ(ToGrpcStatus(absl::OkStatus()).error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("x")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(Overloaded()).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcStatus(DeadlinePassedInQueue()).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(ToGrpcStatus(absl::OutOfRangeError("x")).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_TRUE(FieldViolations(absl::InvalidArgumentError("plain")).empty());
}

}  // namespace
}  // namespace uhc
