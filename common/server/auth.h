#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace uhc {

// What a caller may do: ingest (EnrollmentService), admin (RegionAdminService), read
// (ClassifierService and GetParticipant). Health and reflection are open to all.
enum class Role { kIngest = 1, kAdmin = 2, kRead = 4 };

// Per-call bearer tokens. The token file has one "<roles> <token>" per line (roles comma
// separated: ingest, admin, read; '#' starts a comment). Only SHA-256 digests of the tokens are
// kept, and a presented token is compared with every entry in constant time. Thread-safe.
class TokenAuthorizer {
 public:
  static absl::StatusOr<std::unique_ptr<TokenAuthorizer>> LoadFromFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<TokenAuthorizer>> FromText(const std::string& text);

  // OK; UNAUTHENTICATED without a known "authorization: Bearer <token>"; PERMISSION_DENIED when
  // the token lacks `role`.
  absl::Status Check(const grpc::ServerContextBase& context, Role role) const;

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    int roles;
  };
  std::vector<Entry> entries_;
};

}  // namespace uhc
