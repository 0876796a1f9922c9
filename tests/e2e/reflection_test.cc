// Walks server reflection like a real client (grpcurl, ghz): list services, the file containing
// each service, then every dependency by file name, then builds a descriptor pool from what came
// back and checks that every method of our three services is fully described. gRPC 1.51 has a
// known bug serving files that import other files (grpc/grpc#32821); this test catches it.
#include <filesystem>
#include <map>
#include <set>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "reflection.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

namespace uhc::testing {
namespace {

namespace refl = grpc::reflection::v1alpha;
using google::protobuf::FileDescriptorProto;

class ReflectionWalker {
 public:
  explicit ReflectionWalker(const std::string& address)
      : stub_(refl::ServerReflection::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
        stream_(stub_->ServerReflectionInfo(&context_)) {}
  ~ReflectionWalker() {
    stream_->WritesDone();
    (void)stream_->Finish();
  }

  std::vector<std::string> ListServices() {
    refl::ServerReflectionRequest request;
    request.set_list_services("");
    refl::ServerReflectionResponse response = Ask(request);
    std::vector<std::string> names;
    for (const auto& s : response.list_services_response().service()) names.push_back(s.name());
    return names;
  }

  // Fetches the file with `symbol` and, by file name, every transitive dependency not yet seen.
  std::string FetchSymbol(const std::string& symbol) {
    refl::ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    std::vector<std::string> got = Store(Ask(request));
    if (got.empty()) return "";
    std::vector<std::string> queue = got;
    while (!queue.empty()) {
      std::string name = queue.back();
      queue.pop_back();
      for (const std::string& dep : files_[name].dependency()) {
        if (files_.count(dep)) continue;
        refl::ServerReflectionRequest by_name;
        by_name.set_file_by_filename(dep);
        std::vector<std::string> more = Store(Ask(by_name));
        if (!files_.count(dep)) errors_.push_back("dependency not served: " + dep);
        queue.insert(queue.end(), more.begin(), more.end());
      }
    }
    return got.front();
  }

  // Builds `file` and its dependencies into `pool`, dependencies first.
  const google::protobuf::FileDescriptor* Build(const std::string& file,
                                                google::protobuf::DescriptorPool* pool) {
    if (const auto* built = pool->FindFileByName(file)) return built;
    auto it = files_.find(file);
    if (it == files_.end()) return nullptr;
    for (const std::string& dep : it->second.dependency()) {
      if (Build(dep, pool) == nullptr) return nullptr;
    }
    return pool->BuildFile(it->second);
  }

  void BuildAll(google::protobuf::DescriptorPool* pool) {
    for (const auto& [name, file] : files_) Build(name, pool);
  }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  refl::ServerReflectionResponse Ask(const refl::ServerReflectionRequest& request) {
    refl::ServerReflectionResponse response;
    EXPECT_TRUE(stream_->Write(request));
    EXPECT_TRUE(stream_->Read(&response));
    if (response.has_error_response()) {
      errors_.push_back(request.ShortDebugString() + ": " +
                        response.error_response().error_message());
    }
    return response;
  }

  std::vector<std::string> Store(const refl::ServerReflectionResponse& response) {
    std::vector<std::string> names;
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) continue;
      names.push_back(file.name());
      files_[file.name()] = file;
    }
    return names;
  }

  std::unique_ptr<refl::ServerReflection::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<refl::ServerReflectionRequest, refl::ServerReflectionResponse>>
      stream_;
  std::map<std::string, FileDescriptorProto> files_;
  std::vector<std::string> errors_;
};

TEST(ReflectionTest, EveryMethodOfOurServicesIsFullyDescribed) {
  RedisServer redis;
  char pattern[] = "/tmp/uhc-refl-XXXXXX";
  std::string dir = mkdtemp(pattern);
  int enrollment_port = FreePort(), classifier_port = FreePort();
  std::string redis_port = std::to_string(redis.port());
  Process enrollment(
      {UHC_ENROLLMENT_SVC, "--listen", "127.0.0.1:" + std::to_string(enrollment_port),
       "--plaintext", "--metrics_port", "-1", "--redis_port", redis_port, "--data_dir",
       UHC_SOURCE_DIR "/data"},
      {"UHC_NIK_HMAC_SECRET=reflection-test-secret-0123456789"}, dir + "/e.log");
  Process classifier(
      {UHC_CLASSIFIER_SVC, "--listen", "127.0.0.1:" + std::to_string(classifier_port),
       "--plaintext", "--metrics_port", "-1", "--redis_port", redis_port, "--data_dir",
       UHC_SOURCE_DIR "/data", "--policy_dir", UHC_SOURCE_DIR "/config/policies"},
      {}, dir + "/c.log");
  struct Expect {
    int port;
    std::map<std::string, int> services;  // name -> methods
  } servers[] = {
      {enrollment_port, {{"uhc.v1.EnrollmentService", 4}, {"uhc.v1.RegionAdminService", 5}}},
      {classifier_port, {{"uhc.v1.ClassifierService", 7}}}};
  for (const Expect& server : servers) {
    std::string address = "127.0.0.1:" + std::to_string(server.port);
    ASSERT_TRUE(WaitServing(address, 15000, "liveness"));
    ReflectionWalker walker(address);
    std::vector<std::string> listed = walker.ListServices();
    std::set<std::string> names(listed.begin(), listed.end());
    EXPECT_TRUE(names.count("grpc.health.v1.Health")) << address;
    for (const auto& [service, methods] : server.services) {
      EXPECT_TRUE(names.count(service)) << service;
    }
    // Every listed service resolves, as `ghz --call grpc.health.v1.Health.Check` needs: by the
    // service name and by each method's full name.
    for (const std::string& service : listed) {
      SCOPED_TRACE(address + " " + service);
      std::string file = walker.FetchSymbol(service);
      ASSERT_FALSE(file.empty()) << service << " does not resolve";
      google::protobuf::DescriptorPool pool;
      ASSERT_NE(walker.Build(file, &pool), nullptr) << service << " did not build from " << file;
      walker.BuildAll(&pool);  // a response may put a dependency first
      const google::protobuf::ServiceDescriptor* descriptor = pool.FindServiceByName(service);
      ASSERT_NE(descriptor, nullptr) << service;
      if (auto it = server.services.find(service); it != server.services.end()) {
        EXPECT_EQ(descriptor->method_count(), it->second) << service;
      }
      EXPECT_GT(descriptor->method_count(), 0) << service;
      for (int m = 0; m < descriptor->method_count(); ++m) {
        const auto* method = descriptor->method(m);
        ASSERT_NE(method->input_type(), nullptr);
        ASSERT_NE(method->output_type(), nullptr);
        EXPECT_GT(method->input_type()->field_count() + method->output_type()->field_count(), 0)
            << method->full_name();
        EXPECT_FALSE(walker.FetchSymbol(method->full_name()).empty()) << method->full_name();
      }
    }
    for (const std::string& e : walker.errors()) ADD_FAILURE() << address << ": " << e;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace uhc::testing
